/**
 * A CRI `AuthConfig` (what kubelet puts in PullImage from the pod's `imagePullSecrets`) turned
 * into the `RegistryAuth` a lazy backend uses, the way containerd's CRI reads it (`ParseAuth`):
 * a `server_address` naming another registry than the image's means "not for this image"; an
 * identity token (OAuth2 refresh token) comes with its user name; `username`/`password`; `auth`
 * (base64 of `user:password`); a bare registry token (containerd ignores it; the lazy reads can
 * send it as a bearer token). Nothing given: anonymous (`undefined`, with the reason).
 *
 * Every field is bounded and checked; a reason never contains a secret.
 */
import type { RegistryAuth } from '../contract/registry-credentials.js';

/** AuthConfig as decoded (proto3 strings: absent is ''). */
export interface CriAuthConfig {
  username: string;
  password: string;
  auth: string;
  serverAddress: string;
  identityToken: string;
  registryToken: string;
}

/** Longest user name kept. */
export const MAX_USERNAME_BYTES = 1024;
/** Longest password or token kept (cloud registry tokens are a few KiB). */
export const MAX_SECRET_BYTES = 16 * 1024;

export type AuthResult = { auth: RegistryAuth } | { auth: undefined; reason: string };

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** What may go into an HTTP header value as is (a bearer token). */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

export function registryAuth(c: CriAuthConfig, host: string): AuthResult {
  if (c.serverAddress !== '') {
    const server = serverHost(c.serverAddress);
    if (server === undefined) return none('AuthConfig.server_address is not a registry address');
    if (!sameRegistry(server, host)) return none(`AuthConfig.server_address names ${server}, not ${host}`);
  }
  const long = tooLong(c);
  if (long) return none(long);
  if (c.identityToken !== '') {
    return { auth: { kind: 'identityToken', identityToken: c.identityToken, ...(c.username !== '' ? { username: c.username } : {}) } };
  }
  if (c.username !== '') return { auth: { kind: 'password', username: c.username, password: c.password } };
  if (c.auth !== '') return decodeAuth(c.auth);
  if (c.registryToken !== '') {
    if (!TOKEN_CHARS.test(c.registryToken)) return none('AuthConfig.registry_token has characters a bearer token cannot have');
    return { auth: { kind: 'registryToken', registryToken: c.registryToken } };
  }
  return none('the request has no credentials (anonymous pull)');
}

function none(reason: string): AuthResult {
  return { auth: undefined, reason };
}

function tooLong(c: CriAuthConfig): string | undefined {
  if (Buffer.byteLength(c.username) > MAX_USERNAME_BYTES) return `AuthConfig.username is longer than ${MAX_USERNAME_BYTES} bytes`;
  for (const [field, value] of [
    ['password', c.password],
    ['identity_token', c.identityToken],
    ['registry_token', c.registryToken],
  ] as const) {
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) return `AuthConfig.${field} is longer than ${MAX_SECRET_BYTES} bytes`;
  }
  // base64 of user:password: 4/3 of the two, plus the colon.
  if (c.auth.length > Math.ceil(((MAX_USERNAME_BYTES + MAX_SECRET_BYTES + 1) * 4) / 3) + 4) return 'AuthConfig.auth is too long';
  return undefined;
}

/** `auth`: base64(`user:password`), as docker's config.json writes it. */
function decodeAuth(auth: string): AuthResult {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(auth) || auth.length % 4 === 1) return none('AuthConfig.auth is not base64');
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return none('AuthConfig.auth is not base64 of user:password');
  const username = decoded.slice(0, colon);
  // containerd trims NUL padding off the password.
  const password = decoded.slice(colon + 1).replace(/^\0+|\0+$/g, '');
  if (Buffer.byteLength(username) > MAX_USERNAME_BYTES) return none(`AuthConfig.auth's user name is longer than ${MAX_USERNAME_BYTES} bytes`);
  return { auth: { kind: 'password', username, password } };
}

/** `https://index.docker.io/v1/` → `index.docker.io`; `127.0.0.1:5000` → itself. */
function serverHost(address: string): string | undefined {
  if (address.length > 1024) return undefined;
  const rest = address.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, '');
  const host = rest.split('/')[0] ?? '';
  return /^[A-Za-z0-9.\-[\]:]+$/.test(host) ? host : undefined;
}

function sameRegistry(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || (DOCKER_HUB.has(x) && DOCKER_HUB.has(y));
}
