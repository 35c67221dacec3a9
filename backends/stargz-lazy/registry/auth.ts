/**
 * Registry authorization: anonymous, Basic, and Bearer tokens from the `WWW-Authenticate`
 * challenge (the distribution token protocol: GET with Basic credentials, or the OAuth2 POST
 * form for identity tokens; a `registrytoken` is sent as the Bearer token itself). Tokens are
 * cached per (registry host, scope) until `expires_in` (default 60 s) minus a margin. A
 * request that gets 401 calls `unauthorized()` with the header it sent; a fresh header comes
 * back (fetched once however many requests ask at the same time) and the request is retried
 * once. Every request asks `headerFor()` anew, which renews an expired Bearer token before
 * the request from the challenge remembered for (host, scope), so a token that expires in the
 * middle of a long read is replaced without the reader noticing and without a 401 round trip.
 *
 * Credentials go to a challenge's token endpoint only where `realm-policy.ts` allows: the
 * registry's own origin, or an HTTPS origin named by a registry reached over HTTPS; never from
 * an HTTPS registry to a plain-HTTP realm. Elsewhere the token is asked for anonymously.
 */
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../core/sdk.js';
import { RegistryStatusError, statusError, transportError } from './registry-errors.js';
import type { TimeoutOptions } from './options.js';
import { truncate } from './digest.js';
import { realmPolicy } from './realm-policy.js';
import { parseWwwAuthenticate, type Challenge } from './www-authenticate.js';

/** A user name and password (or access token used as one): Basic auth, or Basic at the token endpoint. */
export interface PasswordCredentials {
  username: string;
  password: string;
}

/** An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user): POSTed to the token endpoint. */
export interface IdentityTokenCredentials {
  identityToken: string;
  username?: string;
}

/** A bearer token sent to the registry as is (`registrytoken`). */
export interface RegistryTokenCredentials {
  registryToken: string;
}

export type Credentials = PasswordCredentials | IdentityTokenCredentials | RegistryTokenCredentials;

/** Whom a request authorizes with: the registry host, the origin requests to it go to, and the scope. */
export interface AuthTarget {
  /** As in image references (`docker.io`, `127.0.0.1:5000`); credentials and tokens are keyed by it. */
  host: string;
  /** `scheme://host[:port]` the registry's requests (and its 401 challenges) go to. */
  origin: string;
  /** `repository:<name>:pull`. */
  scope: string;
}

/** Credentials for a registry host (`docker.io`, `127.0.0.1:5000`), or undefined for anonymous. */
export type CredentialsProvider = (host: string) => Promise<Credentials | undefined> | Credentials | undefined;

/** Credentials from a fixed map keyed by registry host. */
export function staticCredentials(map: Readonly<Record<string, Credentials>>): CredentialsProvider {
  return (host) => map[host];
}

interface CachedAuth {
  header: string;
  /** ms since epoch; Infinity for Basic. */
  expiresAt: number;
}

export interface AuthorizerDeps {
  dispatcher: Dispatcher;
  log: Logger;
  timeouts: TimeoutOptions;
  credentials?: CredentialsProvider | undefined;
  now?: () => number;
}

/** Token lifetime when the token server does not say (the token spec's default). */
export const DEFAULT_TOKEN_SECONDS = 60;
/** `client_id` of OAuth2 token requests (the spec requires one; registries log it). */
const CLIENT_ID = 'snaphost';
/** The largest token answer we read. */
const MAX_TOKEN_RESPONSE = 1 << 20;

export class Authorizer {
  private readonly cache = new Map<string, CachedAuth>();
  private readonly pending = new Map<string, Promise<string>>();
  /** The last Bearer challenge per (host, scope), to renew an expired token before a request instead of after its 401. */
  private readonly challenges = new Map<string, string | string[]>();
  private readonly now: () => number;

  constructor(private readonly deps: AuthorizerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The Authorization header to send for (host, scope), if one is cached and still valid. */
  header(host: string, scope: string): string | undefined {
    const key = cacheKey(host, scope);
    const cached = this.cache.get(key);
    if (!cached) return undefined;
    if (cached.expiresAt > this.now()) return cached.header;
    this.cache.delete(key);
    return undefined;
  }

  /**
   * The header to send for (host, scope): the cached one while valid; once a Bearer token has
   * expired, a new one fetched from the token endpoint the registry named before (so a long
   * read never pays a 401 round trip per token lifetime); undefined when nothing is known yet.
   */
  async headerFor(target: AuthTarget, signal?: AbortSignal): Promise<string | undefined> {
    const cached = this.header(target.host, target.scope);
    if (cached !== undefined) return cached;
    const challenge = this.challenges.get(cacheKey(target.host, target.scope));
    if (challenge === undefined) return undefined;
    return this.unauthorized(target, challenge, undefined, signal);
  }

  /**
   * A request to `host` for `scope` was answered 401 with these challenges while sending
   * `rejected` (undefined: no Authorization). Returns the header to retry with; throws
   * RegistryStatusError when no way to authorize is left.
   */
  async unauthorized(
    target: AuthTarget,
    challengeHeader: string | string[] | undefined,
    rejected: string | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    const key = cacheKey(target.host, target.scope);
    const cached = this.cache.get(key);
    if (cached && cached.header !== rejected && cached.expiresAt > this.now()) return cached.header; // refreshed meanwhile
    if (cached?.header === rejected) this.cache.delete(key);
    let flight = this.pending.get(key);
    if (!flight) {
      // Shared by every request waiting on this key, so it does not follow one caller's signal
      // (its own timeouts bound it); each caller stops waiting when its signal aborts.
      flight = this.authorize(target, challengeHeader, rejected).finally(() => this.pending.delete(key));
      this.pending.set(key, flight);
    }
    return untilAborted(flight, signal);
  }

  /** Forgets every cached token, credential header and challenge. */
  clear(): void {
    this.cache.clear();
    this.challenges.clear();
  }

  private async authorize(target: AuthTarget, challengeHeader: string | string[] | undefined, rejected: string | undefined): Promise<string> {
    const { host, scope } = target;
    const challenges = parseWwwAuthenticate(challengeHeader);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer && challengeHeader !== undefined) this.challenges.set(cacheKey(host, scope), challengeHeader);
    const credentials = await this.deps.credentials?.(host);
    let auth: CachedAuth;
    if (bearer && credentials && 'registryToken' in credentials) {
      auth = { header: `Bearer ${credentials.registryToken}`, expiresAt: Infinity };
    } else if (bearer) {
      auth = await this.fetchToken(target, bearer, credentials);
    } else if (basic) {
      if (!credentials) {
        throw new RegistryStatusError(`registry ${host} requires basic authentication and no credentials are configured for it`, 401);
      }
      if (!('password' in credentials)) {
        throw new RegistryStatusError(`registry ${host} requires basic authentication and its configured credentials are a token, not a password`, 401);
      }
      auth = { header: basicHeader(credentials), expiresAt: Infinity };
    } else {
      const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
      throw new RegistryStatusError(`registry ${host} answered 401 without a Bearer or Basic challenge (challenges: ${schemes})`, 401);
    }
    if (auth.header === rejected) {
      throw new RegistryStatusError(`registry ${host} rejected the ${credentials ? 'configured credentials' : 'anonymous token'} for ${scope}`, 401);
    }
    this.cache.set(cacheKey(host, scope), auth);
    return auth.header;
  }

  /**
   * A Bearer header from the challenge's token endpoint: `GET realm?service=…&scope=…` (with
   * Basic credentials if any), or for an identity token the OAuth2 form
   * `POST realm` `grant_type=refresh_token&refresh_token=…&service=…&scope=…&client_id=…`.
   * Without credentials, or where the realm may not have them (`realm-policy.ts`), the GET goes
   * without Authorization.
   */
  private async fetchToken(target: AuthTarget, challenge: Challenge, configured: Credentials | undefined): Promise<CachedAuth> {
    const { host, scope } = target;
    const realm = realmPolicy(challenge.params.realm, target.origin, host);
    const url = realm.url;
    let credentials = configured;
    if (configured !== undefined && !realm.credentials) {
      credentials = undefined;
      this.deps.log.warn({ host, realm: truncate(url.origin), why: realm.withheld }, 'registry credentials withheld from the token endpoint; asking for an anonymous token');
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
    const started = this.now();
    let text: string;
    try {
      const res = await this.deps.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        headersTimeout: this.deps.timeouts.headersMs,
        bodyTimeout: this.deps.timeouts.bodyMs,
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
    this.deps.log.debug({ host, scope, expiresIn: seconds, grant: method === 'POST' ? 'refresh_token' : 'basic' }, 'registry token issued');
    return { header: `Bearer ${token}`, expiresAt: started + seconds * 1000 - marginMs };
  }
}

function cacheKey(host: string, scope: string): string {
  return `${host}\u0000${scope}`;
}

function basicHeader(c: PasswordCredentials): string {
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

/** `promise`, or the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
