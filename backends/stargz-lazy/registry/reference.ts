/**
 * Image references (`host[:port]/repo[:tag][@digest]`), parsed with the grammar of the
 * distribution project's `reference` package, normalised the way docker and containerd do:
 * `nginx` is `docker.io/library/nginx:latest`, `index.docker.io` is `docker.io`.
 */
import { InvalidArgumentError } from '../../../core/sdk.js';
import { SHA256_DIGEST, truncate } from './digest.js';

export interface ImageReference {
  /** Registry host as written (`docker.io`, `127.0.0.1:5000`, `[::1]:5000`), never a URL. */
  host: string;
  /** Repository path inside the registry (`library/nginx`, `team/app/web`). */
  repository: string;
  /** Tag, if the reference has one (absent when only a digest was given). */
  tag?: string;
  /** Manifest digest, if the reference pins one. */
  digest?: string;
}

export const DEFAULT_HOST = 'docker.io';
const LEGACY_DEFAULT_HOST = 'index.docker.io';
const NAME_TOTAL_MAX = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/**
 * Parses and normalises an image reference; `what` names its source (a label key) in errors.
 * Throws InvalidArgumentError for anything outside the grammar.
 */
export function parseReference(value: string, what: string): ImageReference {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(`${what}: ${JSON.stringify(truncate(value))} is not an image reference: ${why}`);
  };
  if (value === '') fail('empty');
  if (value !== value.trim()) fail('surrounding whitespace');

  let rest = value;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!SHA256_DIGEST.test(digest)) fail(`digest ${JSON.stringify(digest)} is not sha256:<64 lowercase hex digits>`);
  }

  // A tag follows the last ':' after the last '/' (a ':' before it is a port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/') && !rest.slice(colon).includes(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) fail(`tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }

  let host = DEFAULT_HOST;
  let path = rest;
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  // docker's rule: the first component is a host if it has a '.' or ':', is 'localhost',
  // or has upper case letters (which a repository path never has).
  if (slash !== -1 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase())) {
    host = first;
    path = rest.slice(slash + 1);
    if (!DOMAIN_RE.test(host)) fail(`host ${JSON.stringify(host)} is not a valid domain or [ipv6] with an optional :port`);
    const port = /:([0-9]+)$/.exec(host)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) fail(`port ${port} is out of range`);
  }
  if (host === LEGACY_DEFAULT_HOST) host = DEFAULT_HOST;
  if (path === '') fail('no repository');
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT_RE.test(component)) {
      fail(`repository component ${JSON.stringify(component)} must be lowercase letters and digits separated by '.', '_', '__' or '-'`);
    }
  }
  if (host === DEFAULT_HOST && !path.includes('/')) path = `library/${path}`;
  if (host.length + 1 + path.length > NAME_TOTAL_MAX) fail(`name longer than ${NAME_TOTAL_MAX} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';

  const ref: ImageReference = { host, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The canonical string form: `host/repository[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.host}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}
