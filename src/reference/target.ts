import { AirlockError } from '../errors.js';
import { DOCKER_HUB, isValidRepositoryPath, normaliseRegistry, type Reference } from './reference.js';

/** `--to HOST[:PORT][/PREFIX]` parsed. */
export interface TargetRegistry {
  readonly host: string;
  /** Path prefix without leading/trailing slashes; '' for none. */
  readonly prefix: string;
}

export type RepositoryLayout = 'flat' | 'scoped';

export function parseTarget(text: string, where = '--to'): TargetRegistry {
  const t = text.trim().replace(/^(docker|oci):\/\//, '').replace(/\/+$/, '');
  const slash = t.indexOf('/');
  const host = slash < 0 ? t : t.slice(0, slash);
  const prefix = slash < 0 ? '' : t.slice(slash + 1);
  const hostOk = /^(?:\[[0-9a-fA-F:]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?)(?::\d{1,5})?$/.test(host);
  if (!hostOk || (prefix !== '' && !isValidRepositoryPath(prefix))) {
    throw new AirlockError('USAGE', `invalid target registry "${text}"`, {
      where,
      hint: 'write it as HOST[:PORT][/PREFIX], e.g. harbor.intern/mirror or 127.0.0.1:5000',
    });
  }
  return { host: host.toLowerCase(), prefix };
}

/**
 * Where a source repository lands in the target (README "Import", `--layout`).
 * flat:   docker.io/apache/superset → PREFIX/apache/superset
 * scoped: docker.io/apache/superset → PREFIX/docker.io/apache/superset
 * docker.io/library/x stays library/x in both.
 */
export function mapRepository(source: Pick<Reference, 'registry' | 'repository'>, target: TargetRegistry, layout: RepositoryLayout): string {
  const registry = normaliseRegistry(source.registry);
  const parts: string[] = [];
  if (target.prefix) parts.push(target.prefix);
  if (layout === 'scoped') parts.push(registry === DOCKER_HUB ? DOCKER_HUB : registry.replace(/:/g, '_'));
  parts.push(source.repository);
  return parts.join('/');
}
