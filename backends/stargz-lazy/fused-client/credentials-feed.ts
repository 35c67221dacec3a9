/**
 * The daemon's side of `POST /v1/credentials`: keeps the FUSE-serving process told of every
 * registry credential the host learned (`ctx.registryCredentials`: set and forget per
 * repository) and of the pull secrets (`registry.pullSecrets`, replaced as one source).
 *
 * What the process should hold is kept here, with what it has not been told yet (dirty). A
 * change is sent at once to the attached process, coalesced while a send runs; a send that
 * fails is retried with backoff. A (new) process attached (`attach`, called by the link on
 * every connect, before the connect resolves) is told everything known: a restarted process
 * (memory only) gets them back, and a process that outlived a daemon restart keeps what it had
 * (the process merges) and gets what this daemon knows. Forgets not yet delivered are kept
 * (bounded) and sent first. No secret is ever logged: only hosts, repositories and counts.
 */
import { NotFoundError, type Logger, type RegistryCredentialsChange, type RegistryCredentialSource, type RepositoryCredentials } from '../../../core/sdk.js';
import {
  MAX_CREDENTIALS_BODY_BYTES,
  MAX_REPOSITORY_CHANGES,
  repositoryCredentialsSchema,
  type CredentialsAnswer,
  type CredentialsRequestInput,
  type RepositoryKey,
  type WireHostCredentials,
  type WireRepositoryCredentials,
} from '../protocol/credentials-protocol.js';

/** Where credentials go: a connected FusedClient. */
export interface CredentialsSink {
  credentials(r: CredentialsRequestInput): Promise<CredentialsAnswer>;
}

/** The pull secrets as the daemon reads them (pull-secrets/pull-secrets-watch.ts). */
export interface PullSecretEntries {
  /** The entries now (the same array until they change); undefined until first read. */
  entries(): readonly WireHostCredentials[] | undefined;
  /** Called after each change; returns the function that unsubscribes. */
  subscribe(listener: () => void): () => void;
}

/**
 * No pull secrets configured: still a source, so that a process that outlived a daemon whose
 * configuration named some is told there are none now (an empty replace).
 */
const NONE: readonly WireHostCredentials[] = Object.freeze([]);
export const NO_PULL_SECRETS: PullSecretEntries = Object.freeze({ entries: () => NONE, subscribe: () => () => undefined });

export interface CredentialsFeedOptions {
  source: RegistryCredentialSource;
  pullSecrets?: PullSecretEntries | undefined;
  log: Logger;
  /** Called once by `close` (to stop what feeds this feed). */
  onClose?: () => void;
  /** Delays between retries of a failed send, the last repeated (ms). */
  retryDelaysMs?: readonly number[];
}

/** Undelivered forgets kept at most (the oldest go first: the process then keeps a stale entry until it restarts). */
const MAX_PENDING_FORGETS = 8192;
/** Sets and forgets of one request stay under this (a replace travels alone). */
const BATCH_BYTES = MAX_CREDENTIALS_BODY_BYTES / 2;
const DEFAULT_RETRY_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000];
/** Requests one flush sends at most: every repository known (MAX_PENDING_FORGETS forgets, 8192 sets) fits in far fewer. */
const MAX_REQUESTS_PER_FLUSH = 256;

export class CredentialsFeed {
  readonly #known = new Map<string, WireRepositoryCredentials>();
  readonly #dirtySets = new Set<string>();
  readonly #dirtyForgets = new Map<string, RepositoryKey>();
  #pullSecretsDirty = false;
  #sink: CredentialsSink | undefined;
  #flushing: Promise<void> | undefined;
  #again = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void)[] = [];
  #closed = false;
  readonly #log: Logger;

  constructor(private readonly o: CredentialsFeedOptions) {
    this.#log = o.log.child({ component: 'credentials-feed' });
    this.#unsubscribe.push(o.source.subscribe((change) => this.#change(change)));
    for (const c of o.source.current()) this.#set(c);
    if (o.pullSecrets) {
      this.#pullSecretsDirty = o.pullSecrets.entries() !== undefined;
      this.#unsubscribe.push(
        o.pullSecrets.subscribe(() => {
          this.#pullSecretsDirty = true;
          this.#kick();
        }),
      );
    }
  }

  /**
   * A (new) process is connected: tell it everything known, and send it changes from now on.
   * Resolves once told (or the attempt failed: logged, retried later); never rejects.
   */
  async attach(sink: CredentialsSink): Promise<void> {
    if (this.#closed) return;
    this.#sink = sink;
    this.#failures = 0;
    for (const key of this.#known.keys()) this.#dirtySets.add(key);
    if (this.o.pullSecrets?.entries() !== undefined) this.#pullSecretsDirty = true;
    await this.#flush();
  }

  /** Stop following the sources; nothing more is sent. */
  close(): void {
    if (!this.#closed) this.o.onClose?.();
    this.#closed = true;
    this.#sink = undefined;
    clearTimeout(this.#retry);
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
  }

  /** Repositories known, and changes not yet delivered (for tests and status). */
  get pending(): { repositories: number; sets: number; forgets: number; pullSecrets: boolean } {
    return { repositories: this.#known.size, sets: this.#dirtySets.size, forgets: this.#dirtyForgets.size, pullSecrets: this.#pullSecretsDirty };
  }

  #change(change: RegistryCredentialsChange): void {
    if (change.type === 'set') this.#set(change.credentials);
    else this.#forget({ host: change.host, repository: change.repository });
    this.#kick();
  }

  #set(c: RepositoryCredentials): void {
    const parsed = repositoryCredentialsSchema.safeParse({ host: c.host, repository: c.repository, auth: c.auth });
    if (!parsed.success) {
      // The issue paths and messages only: a value may be a secret.
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      this.#log.warn({ host: c.host.slice(0, 300), repository: c.repository.slice(0, 300), issues }, 'registry credentials not handed to the FUSE process: invalid');
      return;
    }
    const key = keyOf(parsed.data);
    this.#known.set(key, parsed.data);
    this.#dirtyForgets.delete(key);
    this.#dirtySets.add(key);
  }

  #forget(k: RepositoryKey): void {
    const key = keyOf(k);
    this.#known.delete(key);
    this.#dirtySets.delete(key);
    this.#dirtyForgets.delete(key);
    this.#dirtyForgets.set(key, k);
    if (this.#dirtyForgets.size > MAX_PENDING_FORGETS) this.#dirtyForgets.delete(this.#dirtyForgets.keys().next().value!);
  }

  #kick(): void {
    if (this.#sink === undefined || this.#closed) return;
    void this.#flush();
  }

  #flush(): Promise<void> {
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    const run = async () => {
      do {
        this.#again = false;
        if (!(await this.#sendDirty())) return;
      } while (this.#again);
    };
    this.#flushing = run().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Sends what is dirty, request by request; false when a send failed (a retry is scheduled). */
  async #sendDirty(): Promise<boolean> {
    // Each request marks what it carried delivered, so this ends; the bound makes sure of it.
    for (let sent = 0; sent < MAX_REQUESTS_PER_FLUSH; sent++) {
      const sink = this.#sink;
      if (sink === undefined || this.#closed) return false;
      const request = this.#nextRequest();
      if (request === undefined) return true;
      try {
        const answer = await sink.credentials(request.body);
        request.done();
        this.#failures = 0;
        this.#log.debug({ set: request.body.set?.length ?? 0, forgot: request.body.forget?.length ?? 0, replaced: request.body.replace?.source, held: answer }, 'registry credentials handed to the FUSE process');
      } catch (err) {
        if (sink !== this.#sink) continue; // a new process attached meanwhile: it is told everything anew
        if (err instanceof NotFoundError) {
          const carried = (request.body.set?.length ?? 0) + (request.body.forget?.length ?? 0) + (request.body.replace?.entries.length ?? 0) > 0;
          this.#log[carried ? 'warn' : 'debug']('the running FUSE process does not take registry credentials (it predates them); they reach a newer process when it starts');
          this.#sink = undefined;
          return false;
        }
        this.#failures++;
        const delays = this.o.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
        const delay = delays[Math.min(this.#failures, delays.length) - 1] ?? 1_000;
        const level = this.#failures === 1 ? 'warn' : 'debug';
        this.#log[level]({ reason: (err as Error).message, retryInMs: delay }, 'could not hand registry credentials to the FUSE process; retrying');
        this.#retryIn(delay);
        return false;
      }
    }
    this.#log.error({ max: MAX_REQUESTS_PER_FLUSH }, 'registry credentials still undelivered after the most requests one flush sends; trying again later');
    this.#retryIn(DEFAULT_RETRY_DELAYS_MS.at(-1)!);
    return false;
  }

  #retryIn(ms: number): void {
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#kick(), ms);
    this.#retry.unref();
  }

  /** The next request to send, and what to mark delivered once it succeeded. */
  #nextRequest(): { body: CredentialsRequestInput; done: () => void } | undefined {
    const pullSecrets = this.o.pullSecrets?.entries();
    if (this.#pullSecretsDirty && pullSecrets !== undefined) {
      return { body: { replace: { source: 'pull-secrets', entries: [...pullSecrets] } }, done: () => {
        if (this.o.pullSecrets?.entries() === pullSecrets) this.#pullSecretsDirty = false;
      } };
    }
    const forget: [string, RepositoryKey][] = [];
    const set: [string, WireRepositoryCredentials][] = [];
    let bytes = 0;
    const fits = (value: unknown) => {
      const size = JSON.stringify(value).length + 1;
      if (forget.length + set.length >= MAX_REPOSITORY_CHANGES || (bytes + size > BATCH_BYTES && bytes > 0)) return false;
      bytes += size;
      return true;
    };
    for (const entry of this.#dirtyForgets) {
      if (!fits(entry[1])) break;
      forget.push(entry);
    }
    for (const key of this.#dirtySets) {
      const value = this.#known.get(key);
      if (value === undefined) continue;
      if (!fits(value)) break;
      set.push([key, value]);
    }
    if (forget.length === 0 && set.length === 0) return undefined;
    return {
      body: { set: set.map(([, v]) => v), forget: forget.map(([, k]) => k) },
      done: () => {
        for (const [key, k] of forget) if (this.#dirtyForgets.get(key) === k) this.#dirtyForgets.delete(key);
        for (const [key, v] of set) if (this.#known.get(key) === v) this.#dirtySets.delete(key);
      },
    };
  }
}

function keyOf(k: { host: string; repository: string }): string {
  return `${k.host}\u0000${k.repository}`;
}
