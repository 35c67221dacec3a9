/**
 * The real `FusedLink`: a `FusedClient` to the FUSE-serving process of the backend root,
 * connected on first use. `start` starts it (or attaches) and waits until it has warmed up
 * (the backend's open, `startFusedAtOpen`); `get` starts the process when none answers (a
 * remote prepare); `running` connects only to one that is already there (its socket exists).
 * `warm` starts it ahead of use, in the background, for a root that served remote layers
 * before (used when `startFusedAtOpen` is false). One connect at a time; a client
 * whose connection broke is dropped and the next call connects again.
 */
import { access } from 'node:fs/promises';
import type { Logger } from '../../../core/sdk.js';
import type { CredentialsFeed } from './credentials-feed.js';
import { FusedClient } from './fused-client.js';
import type { FusedConfig } from '../protocol/fused-config.js';
import { fusedPaths } from '../protocol/root-layout.js';
import type { FusedLink, FusedMounter } from './fused-link.js';

export class FusedClientLink implements FusedLink {
  readonly #root: string;
  readonly #config: FusedConfig;
  readonly #log: Logger;
  readonly #startTimeoutMs: number;
  readonly #command: readonly string[] | undefined;
  readonly #credentials: CredentialsFeed | undefined;
  readonly #env: Readonly<Record<string, string>> | undefined;
  #client: Promise<FusedClient> | undefined;
  /** What `#client` resolved to (to recognise it in `reset`). */
  #current: FusedClient | undefined;
  #closed = false;

  /**
   * `command`: what runs the process's main.js (default: `defaultFusedCommand()`; tests run it
   * from source). `credentials`: told of every (new) connection before it is used, so that a
   * process is given the registry credentials before its first mount; closed with the link.
   * `env`: the process's environment on top of this one's (fusedOnHost).
   */
  constructor(
    root: string,
    config: FusedConfig,
    log: Logger,
    startTimeoutMs: number,
    command?: readonly string[],
    credentials?: CredentialsFeed,
    env?: Readonly<Record<string, string>>,
  ) {
    this.#root = root;
    this.#credentials = credentials;
    this.#env = env;
    this.#command = command;
    this.#config = config;
    this.#log = log;
    this.#startTimeoutMs = startTimeoutMs;
  }

  async get(signal: AbortSignal): Promise<FusedMounter> {
    signal.throwIfAborted();
    return this.#connect(true);
  }

  /**
   * Start (or connect to) the FUSE-serving process in the background when this root has served
   * remote layers before (`<root>/fused.json` exists: it is written at the first remote
   * prepare), so that the next remote prepare does not pay the process's start-up (a few
   * hundred ms of Node start and module loading). A root that never had a remote snapshot
   * never starts one. Never throws and never fails a later call: a start that fails is logged
   * and forgotten, and the next `get` tries again.
   */
  warm(): void {
    if (this.#closed || this.#client !== undefined) return;
    void access(fusedPaths(this.#root).config).then(
      () => {
        if (this.#closed || this.#client !== undefined) return;
        this.#connect(true).then(
          () => this.#log.debug('FUSE-serving process ready ahead of use'),
          (err: unknown) => this.#log.warn({ err }, 'could not start the FUSE-serving process ahead of use; the next remote prepare tries again'),
        );
      },
      () => undefined,
    );
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const client = await this.#connect(true);
    await client.waitWarm(this.#startTimeoutMs, signal);
  }

  async running(): Promise<FusedMounter | undefined> {
    if (this.#client === undefined) {
      const exists = await access(fusedPaths(this.#root).socket).then(
        () => true,
        () => false,
      );
      if (!exists) return undefined;
    }
    try {
      return await this.#connect(false);
    } catch (err) {
      this.#log.debug({ err }, 'no FUSE process answers');
      return undefined;
    }
  }

  reset(client: FusedMounter): void {
    const current = this.#current;
    if (current === undefined || current !== client) return;
    this.#current = undefined;
    this.#client = undefined;
    void current.close();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#credentials?.close();
    const current = this.#client;
    this.#client = undefined;
    this.#current = undefined;
    if (current === undefined) return;
    const client = await current.catch(() => undefined);
    await client?.close();
  }

  #connect(spawn: boolean): Promise<FusedClient> {
    if (this.#closed) return Promise.reject(new Error('stargz-lazy: the connection to the FUSE process is closed'));
    if (this.#client !== undefined) return this.#client;
    const feed = this.#credentials;
    const connecting = FusedClient.connect(this.#root, {
      log: this.#log,
      config: this.#config,
      spawn,
      startTimeoutMs: this.#startTimeoutMs,
      ...(this.#command ? { command: this.#command } : {}),
      ...(this.#env ? { env: this.#env } : {}),
    });
    const pending = feed === undefined ? connecting : connecting.then(async (client) => (await feed.attach(client), client));
    this.#client = pending;
    // A failed connect is not kept: the next call tries again (and may start the process).
    pending.then(
      (client) => {
        if (this.#client === pending) this.#current = client;
      },
      () => {
        if (this.#client === pending) this.#client = undefined;
      },
    );
    return pending;
  }
}
