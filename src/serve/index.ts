export {
  referrersIndex, referrersFallbackTag, type ServedRepository, type ServeCatalog, type ServeContent,
} from './catalog.js';
export {
  startRegistryServer, parseRange, type RegistryServer, type RegistryServerOptions, type ServedRequest,
} from './server.js';
export { readHtpasswd, type BasicAuthChecker } from './htpasswd.js';
export { DEFAULT_LISTEN, defaultServeCacheDir, parseListen, isLoopback } from './listen.js';
