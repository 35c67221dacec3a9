/**
 * An image reference as kubelet sends it (`busybox`, `nginx:1.27`, `ghcr.io/o/app@sha256:…`,
 * `127.0.0.1:5000/private/app:v1`) reduced to the registry host and repository its credentials
 * belong to, normalized as containerd does (distribution/reference `ParseNormalizedNamed`):
 * no domain → `docker.io`, `index.docker.io` → `docker.io`, a one-component Docker Hub name →
 * `library/<name>`; the tag and digest are dropped. Anything else (an image ID, a malformed or
 * too long name) is `undefined`: no credentials are learned for it.
 */

export interface ImageRepository {
  /** Registry host with port, as the reference writes it: `docker.io`, `127.0.0.1:5000`. */
  host: string;
  /** Repository path: `library/busybox`. */
  repository: string;
}

/** distribution/reference: a whole name is at most 255 characters. */
export const MAX_NAME_LENGTH = 255;
/** Longest reference considered at all (name + tag + digest). */
export const MAX_REFERENCE_LENGTH = 1024;

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';

const HOST_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${HOST_COMPONENT}(?:\\.${HOST_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

export function imageRepository(reference: string): ImageRepository | undefined {
  if (reference.length === 0 || reference.length > MAX_REFERENCE_LENGTH) return undefined;
  let rest = reference;
  const at = rest.indexOf('@');
  if (at !== -1) {
    if (!DIGEST.test(rest.slice(at + 1))) return undefined;
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    if (!TAG.test(rest.slice(colon + 1))) return undefined;
    rest = rest.slice(0, colon);
  }
  if (rest.length === 0 || rest.length > MAX_NAME_LENGTH) return undefined;
  const { host, path } = splitDomain(rest);
  if (!DOMAIN.test(host)) return undefined;
  if (!path.split('/').every((c) => PATH_COMPONENT.test(c))) return undefined;
  return { host, repository: path };
}

/** distribution/reference `splitDockerDomain`. */
function splitDomain(name: string): { host: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  let host: string;
  let path: string;
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    host = DEFAULT_DOMAIN;
    path = name;
  } else {
    host = first;
    path = name.slice(slash + 1);
  }
  if (host === LEGACY_DEFAULT_DOMAIN) host = DEFAULT_DOMAIN;
  if (host === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  return { host, path };
}

/** `host/repository`, the key the store and messages use. */
export function repositoryKey(r: ImageRepository): string {
  return `${r.host}/${r.repository}`;
}
