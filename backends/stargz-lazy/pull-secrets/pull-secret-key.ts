/**
 * A key of a dockerconfigjson's `auths` as kubelet reads it: a registry host, optionally with a
 * scheme and a repository path prefix (`https://index.docker.io/v1/`, `10.0.0.5:5000`,
 * `registry.example.com/team`). Docker Hub's names fold into `docker.io` (as image references
 * write it); the legacy API paths `/v1/` and `/v2/` are not prefixes. Wildcard keys
 * (`*.example.com`) are not supported: named, not guessed.
 */
import { hostKey } from '../registry/options.js';
import { repositorySchema } from '../protocol/credentials-protocol.js';

const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export type PullSecretKey = { host: string; path?: string } | { error: string };

export function parsePullSecretKey(key: string): PullSecretKey {
  let rest = key.trim();
  const scheme = /^(https?):\/\//i.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  const slash = rest.indexOf('/');
  const hostPart = (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase();
  let path = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
  if (hostPart.includes('*')) return { error: 'wildcard registry keys are not supported' };
  if (!hostKey.safeParse(hostPart).success) return { error: 'not a registry host' };
  const host = DOCKER_HUB_NAMES.has(hostPart) ? 'docker.io' : hostPart;
  if (path === 'v1' || path === 'v2') path = '';
  if (path === '') return { host };
  if (!repositorySchema.safeParse(path).success) return { error: 'the path after the host is not a repository path' };
  return { host, path };
}
