export {
  DockerArchiveSource, buildSchema2Manifest, DOCKER_ARCHIVE_MANIFEST, type DockerArchiveImage, type OpenDockerArchiveOptions,
} from './docker-archive.js';
