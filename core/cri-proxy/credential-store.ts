/**
 * The registry credentials the CRI proxy learned, per (host, repository): the
 * `RegistryCredentialSource` every backend gets as `ctx.registryCredentials`. In memory only
 * (never written to disk), bounded:
 *
 * - `set` when a pull with credentials starts (the lazy mounts made during the pull need them):
 *   newer credentials replace older ones (rotation: a `set` change); the same credentials again
 *   only renew them (no change is sent). `revert` when that pull failed puts back what was there.
 * - credentials not renewed for `ttlMs` are forgotten (checked every `sweepMs`, and by `current`).
 * - at most `maxRepositories`: a new repository beyond that drops the least recently renewed.
 * - `forget` / `keepOnly` when images are removed; a repository renewed after `before` (a pull
 *   that finished while the removal was looking) is kept.
 *
 * Listeners are called in order, synchronously; one that throws is logged (without the change)
 * and the others still get it.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RegistryAuth, RegistryCredentialSource, RegistryCredentialsChange, RepositoryCredentials } from '../contract/registry-credentials.js';
import type { Logger } from '../logger.js';
import { repositoryKey, type ImageRepository } from './image-reference.js';

export interface CredentialStoreOptions {
  ttlMs: number;
  maxRepositories: number;
  log: Logger;
  /** How often expired credentials are looked for; default ttlMs/10, between 1 s and 60 s. */
  sweepMs?: number;
  now?: () => number;
}

export class CredentialStore implements RegistryCredentialSource {
  readonly #entries = new Map<string, RepositoryCredentials>();
  readonly #listeners = new Set<(change: RegistryCredentialsChange) => void>();
  readonly #o: CredentialStoreOptions;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  constructor(o: CredentialStoreOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    const sweepMs = o.sweepMs ?? Math.min(60_000, Math.max(1000, Math.floor(o.ttlMs / 10)));
    this.#timer = setInterval(() => this.expire(), sweepMs);
    this.#timer.unref();
  }

  current(): RepositoryCredentials[] {
    this.expire();
    return [...this.#entries.values()].map((c) => ({ ...c, auth: { ...c.auth } }));
  }

  subscribe(listener: (change: RegistryCredentialsChange) => void): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const l = (c: RegistryCredentialsChange) => listener(c);
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /** Repositories with credentials now (`host/repository`, never a secret). */
  repositories(): string[] {
    this.expire();
    return [...this.#entries.keys()];
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Keep `auth` for `repo` (a pull with them succeeded). */
  set(repo: ImageRepository, auth: RegistryAuth): void {
    const key = repositoryKey(repo);
    const old = this.#entries.get(key);
    const credentials: RepositoryCredentials = { host: repo.host, repository: repo.repository, auth: { ...auth }, updatedAt: this.#now() };
    this.#entries.delete(key);
    this.#entries.set(key, credentials);
    if (old && isDeepStrictEqual(old.auth, credentials.auth)) return;
    this.#o.log.info({ repository: key, kind: auth.kind }, old ? 'registry credentials rotated' : 'registry credentials learned');
    this.#emit({ type: 'set', credentials: { ...credentials, auth: { ...credentials.auth } } });
    while (this.#entries.size > this.#o.maxRepositories) {
      const oldest = this.#entries.keys().next().value!;
      this.#drop(oldest, `more than maxRepositories (${this.#o.maxRepositories}) have credentials; dropping the least recently renewed`);
    }
  }

  /** `repo`'s credentials now (the stored object: compare, never change it). */
  get(repo: ImageRepository): RepositoryCredentials | undefined {
    return this.#entries.get(repositoryKey(repo));
  }

  /**
   * Undo a `set` whose pull failed: when `repo`'s credentials are still `mine` (no later pull
   * replaced them), put `previous` back, or forget them when there were none.
   */
  revert(repo: ImageRepository, mine: RepositoryCredentials, previous: RepositoryCredentials | undefined): void {
    const key = repositoryKey(repo);
    if (this.#entries.get(key) !== mine) return;
    if (!previous) {
      this.#drop(key, 'the pull that gave them failed');
      return;
    }
    this.#entries.set(key, previous);
    if (isDeepStrictEqual(previous.auth, mine.auth)) return;
    this.#o.log.info({ repository: key }, 'registry credentials put back: the pull that gave newer ones failed');
    this.#emit({ type: 'set', credentials: { ...previous, auth: { ...previous.auth } } });
  }

  /** Forget `repo`'s credentials unless they were renewed after `before` (ms since the epoch). */
  forget(repo: ImageRepository, reason: string, before = Infinity): boolean {
    const key = repositoryKey(repo);
    const c = this.#entries.get(key);
    if (!c || c.updatedAt > before) return false;
    this.#drop(key, reason);
    return true;
  }

  /** Forget every repository not in `referenced` (keys `host/repository`) and not renewed after `before`. */
  keepOnly(referenced: ReadonlySet<string>, reason: string, before: number): string[] {
    const gone = [...this.#entries.values()].filter((c) => !referenced.has(repositoryKey(c)) && c.updatedAt <= before).map(repositoryKey);
    for (const key of gone) this.#drop(key, reason);
    return gone;
  }

  /** Forget what was not renewed for ttlMs. */
  expire(): void {
    const limit = this.#now() - this.#o.ttlMs;
    for (const [key, c] of this.#entries) {
      if (c.updatedAt < limit) this.#drop(key, `not renewed by a pull for credentialsTtlMs (${this.#o.ttlMs} ms)`);
    }
  }

  /**
   * Stop the expiry timer and the listeners. Nothing is forgotten: a FUSE-serving process that
   * outlives this daemon keeps serving running containers with what it was given.
   */
  close(): void {
    clearInterval(this.#timer);
    this.#listeners.clear();
  }

  #drop(key: string, reason: string): void {
    const c = this.#entries.get(key);
    if (!c) return;
    this.#entries.delete(key);
    this.#o.log.info({ repository: key, reason }, 'registry credentials forgotten');
    this.#emit({ type: 'forget', host: c.host, repository: c.repository });
  }

  #emit(change: RegistryCredentialsChange): void {
    for (const l of [...this.#listeners]) {
      try {
        l(change);
      } catch (err) {
        this.#o.log.error({ change: change.type, err: { message: err instanceof Error ? err.name : typeof err } }, 'a registry credentials listener threw');
      }
    }
  }
}
