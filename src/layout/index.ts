export { LayoutStore, OCI_LAYOUT_FILE, OCI_LAYOUT_CONTENT, type LayoutStoreOptions } from './layout-store.js';
export { OciLayoutSource, type LayoutImage } from './layout-source.js';
