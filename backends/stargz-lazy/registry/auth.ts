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
 * Credentials that change (pushed ones, pushed-credentials.ts) call `invalidate(host,
 * repository?)`: the tokens and Basic headers cached for them are dropped, a token being fetched
 * with the old credentials is not cached, and `epoch(target)` moves on, so that a request that
 * was refused with the old credentials is retried once with the new (registry-client.ts).
 *
 * Credentials go to a challenge's token endpoint only where `realm-policy.ts` allows: the
 * registry's own origin, or an HTTPS origin named by a registry reached over HTTPS; never from
 * an HTTPS registry to a plain-HTTP realm. Elsewhere the token is asked for anonymously.
 */
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../core/sdk.js';
import type { AuthTarget } from './auth-target.js';
import type { Credentials, CredentialsProvider } from './credentials.js';
import { RegistryStatusError } from './registry-errors.js';
import type { TimeoutOptions } from './options.js';
import { basicHeader, fetchToken, type CachedAuth } from './token-endpoint.js';
import { parseWwwAuthenticate } from './www-authenticate.js';

export interface AuthorizerDeps {
  dispatcher: Dispatcher;
  log: Logger;
  timeouts: TimeoutOptions;
  credentials?: CredentialsProvider | undefined;
  now?: () => number;
}

export class Authorizer {
  private readonly cache = new Map<string, CachedAuth>();
  private readonly pending = new Map<string, Promise<string>>();
  /** The last Bearer challenge per (host, scope), to renew an expired token before a request instead of after its 401. */
  private readonly challenges = new Map<string, string | string[]>();
  /** Bumped by `invalidate`: per host, and per (host, scope). */
  private readonly hostEpochs = new Map<string, number>();
  private readonly scopeEpochs = new Map<string, number>();
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
      const started = this.authorize(target, challengeHeader, rejected).finally(() => {
        if (this.pending.get(key) === started) this.pending.delete(key);
      });
      flight = started;
      this.pending.set(key, flight);
    }
    return untilAborted(flight, signal);
  }

  /**
   * The credentials of `repository` at `host` (every repository of the host when absent) have
   * changed: drop what was obtained with the old ones.
   */
  invalidate(host: string, repository?: string): void {
    if (repository === undefined) {
      this.hostEpochs.set(host, (this.hostEpochs.get(host) ?? 0) + 1);
      const prefix = `${host}\u0000`;
      for (const key of this.cache.keys()) if (key.startsWith(prefix)) this.cache.delete(key);
      for (const key of this.pending.keys()) if (key.startsWith(prefix)) this.pending.delete(key);
      return;
    }
    const key = cacheKey(host, `repository:${repository}:pull`);
    this.scopeEpochs.set(key, (this.scopeEpochs.get(key) ?? 0) + 1);
    this.cache.delete(key);
    this.pending.delete(key);
  }

  /** Changes whenever the credentials for the target were invalidated (a retry with new credentials is worth it). */
  epoch(target: AuthTarget): number {
    return (this.hostEpochs.get(target.host) ?? 0) + (this.scopeEpochs.get(cacheKey(target.host, target.scope)) ?? 0);
  }

  /** Forgets every cached token, credential header and challenge. */
  clear(): void {
    this.cache.clear();
    this.challenges.clear();
  }

  private async authorize(target: AuthTarget, challengeHeader: string | string[] | undefined, rejected: string | undefined): Promise<string> {
    const { host, scope } = target;
    const epoch = this.epoch(target);
    const challenges = parseWwwAuthenticate(challengeHeader);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer && challengeHeader !== undefined) this.challenges.set(cacheKey(host, scope), challengeHeader);
    const credentials = await this.deps.credentials?.(host, target.repository);
    let auth: CachedAuth;
    if (bearer && credentials && 'registryToken' in credentials) {
      auth = { header: `Bearer ${credentials.registryToken}`, expiresAt: Infinity };
    } else if (bearer) {
      auth = await fetchToken(this.deps, this.now, target, bearer, credentials);
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
    // Obtained with credentials that were replaced or forgotten meanwhile: used by this request
    // only, never cached.
    if (this.epoch(target) === epoch) this.cache.set(cacheKey(host, scope), auth);
    return auth.header;
  }
}

function cacheKey(host: string, scope: string): string {
  return `${host}\u0000${scope}`;
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
