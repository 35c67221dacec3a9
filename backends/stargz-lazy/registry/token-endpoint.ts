/**
 * A Bearer token from a registry's token endpoint (the distribution token protocol), as
 * `auth.ts` asks for it when a challenge names one.
 */
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../core/sdk.js';
import type { AuthTarget } from './auth-target.js';
import type { Credentials, PasswordCredentials } from './credentials.js';
import { truncate } from './digest.js';
import type { TimeoutOptions } from './options.js';
import { realmPolicy } from './realm-policy.js';
import { RegistryStatusError, statusError, transportError } from './registry-errors.js';
import type { Challenge } from './www-authenticate.js';

/** An Authorization header, and until when it may be sent. */
export interface CachedAuth {
  header: string;
  /** ms since epoch; Infinity for Basic. */
  expiresAt: number;
}

/** What the token request needs of the authorizer's dependencies. */
export interface TokenEndpointDeps {
  dispatcher: Dispatcher;
  log: Logger;
  timeouts: TimeoutOptions;
}

/** Token lifetime when the token server does not say (the token spec's default). */
export const DEFAULT_TOKEN_SECONDS = 60;
/** `client_id` of OAuth2 token requests (the spec requires one; registries log it). */
const CLIENT_ID = 'snaphost';
/** The largest token answer we read. */
const MAX_TOKEN_RESPONSE = 1 << 20;

/**
 * A Bearer header from the challenge's token endpoint: `GET realm?service=…&scope=…` (with
 * Basic credentials if any), or for an identity token the OAuth2 form
 * `POST realm` `grant_type=refresh_token&refresh_token=…&service=…&scope=…&client_id=…`.
 * Without credentials, or where the realm may not have them (`realm-policy.ts`), the GET goes
 * without Authorization.
 */
export async function fetchToken(
  deps: TokenEndpointDeps,
  now: () => number,
  target: AuthTarget,
  challenge: Challenge,
  configured: Credentials | undefined,
): Promise<CachedAuth> {
  const { host, scope } = target;
  const realm = realmPolicy(challenge.params.realm, target.origin, host);
  const url = realm.url;
  let credentials = configured;
  if (configured !== undefined && !realm.credentials) {
    credentials = undefined;
    deps.log.warn({ host, realm: truncate(url.origin), why: realm.withheld }, 'registry credentials withheld from the token endpoint; asking for an anonymous token');
  }
  // The challenge's scope is what this request needs; ours covers the same repository.
  const scopes = [...new Set([challenge.params.scope ?? scope, scope])];
  const service = challenge.params.service;
  const what = `token for ${host} (${scope}) from ${truncate(url.origin)}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  let method: 'GET' | 'POST' = 'GET';
  let body: string | undefined;
  let presented = 'anonymous access';
  if (credentials && 'identityToken' in credentials) {
    method = 'POST';
    presented = 'the configured identity token';
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: CLIENT_ID });
    if (service !== undefined) form.set('service', service);
    form.set('scope', scopes.join(' '));
    body = form.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else {
    if (service !== undefined) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (credentials && 'password' in credentials) {
      headers.authorization = basicHeader(credentials);
      presented = 'the configured credentials';
    }
  }
  const started = now();
  let text: string;
  try {
    const res = await deps.dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      headersTimeout: deps.timeouts.headersMs,
      bodyTimeout: deps.timeouts.bodyMs,
    });
    if (res.statusCode !== 200) {
      await res.body.dump({ limit: MAX_TOKEN_RESPONSE }).catch(() => undefined);
      if (res.statusCode === 400 || res.statusCode === 401 || res.statusCode === 403) {
        const withheld = credentials !== configured ? `; the configured credentials were withheld: ${realm.withheld}` : '';
        throw new RegistryStatusError(`${what}: the token server refused ${presented} (HTTP ${res.statusCode})${withheld}`, res.statusCode);
      }
      if (method === 'POST' && (res.statusCode === 404 || res.statusCode === 405)) {
        throw new RegistryStatusError(`${what}: the token server does not take OAuth2 POST requests (HTTP ${res.statusCode}), which an identity token needs`, res.statusCode);
      }
      throw statusError(what, res.statusCode, res.headers['retry-after']);
    }
    text = await readText(res.body, what);
  } catch (err) {
    throw transportError(what, err);
  }
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new RegistryStatusError(`${what}: the answer is not JSON`, 200);
  }
  const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
  if (typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) {
    throw new RegistryStatusError(`${what}: the answer has no token`, 200);
  }
  const seconds =
    typeof parsed.expires_in === 'number' && Number.isFinite(parsed.expires_in) && parsed.expires_in > 0
      ? parsed.expires_in
      : DEFAULT_TOKEN_SECONDS;
  // Renew a little before the server's expiry so a request is not sent with a dying token.
  const marginMs = Math.min(10_000, seconds * 100);
  deps.log.debug({ host, scope, expiresIn: seconds, grant: method === 'POST' ? 'refresh_token' : 'basic' }, 'registry token issued');
  return { header: `Bearer ${token}`, expiresAt: started + seconds * 1000 - marginMs };
}

export function basicHeader(c: PasswordCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

async function readText(body: AsyncIterable<Buffer>, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_TOKEN_RESPONSE) throw new RegistryStatusError(`${what}: the answer is larger than ${MAX_TOKEN_RESPONSE} bytes`, 200);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
