// Helm charts: OCI charts' images, classic (index.yaml) repositories, and the chart image scanner.
export { readChart, readChartArchive, type ChartFiles } from './archive.js';
export { findChartImages, literalTemplateImages, type ChartImage } from './images.js';
export { buildHelmArtifact, toHelmConfigJson, helmAnnotations, parseChartYaml, goJson, type HelmChartArtifact, type BuildHelmArtifactOptions } from './helm-oci.js';
export {
  parseRepositoryIndex, selectChartVersion, classicChartRepository, resolveClassicChart,
  type ChartIndexEntry, type ClassicChartEntry, type ResolveClassicChartOptions, type ResolvedClassicChart,
} from './classic-repo.js';
export { helmChartLayer, readOciChart } from './oci.js';
export { chartDependencies, type ChartDependency } from './dependencies.js';
