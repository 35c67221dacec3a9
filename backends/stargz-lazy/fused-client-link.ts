/**
 * The real `FusedLink`: a `FusedClient` to the FUSE-serving process of the backend root,
 * connected on first use. `get` starts the process when none answers (the first remote
 * prepare); `running` connects only to one that is already there (its socket exists), so
 * local-only use never starts a FUSE process. One connect at a time; a client whose
 * connection broke is dropped and the next call connects again.
 */
import { access } from 'node:fs/promises';
import type { Logger } from '../../core/sdk.js';
import { FusedClient } from './fused/fused-client.js';
import type { FusedConfig } from './fused/fused-config.js';
import { fusedPaths } from './fused/root-layout.js';
import type { FusedLink, FusedMounter } from './fused-link.js';

export class FusedClientLink implements FusedLink {
  readonly #root: string;
  readonly #config: FusedConfig;
  readonly #log: Logger;
  readonly #startTimeoutMs: number;
  #client: Promise<FusedClient> | undefined;
  /** What `#client` resolved to (to recognise it in `reset`). */
  #current: FusedClient | undefined;
  #closed = false;

  constructor(root: string, config: FusedConfig, log: Logger, startTimeoutMs: number) {
    this.#root = root;
    this.#config = config;
    this.#log = log;
    this.#startTimeoutMs = startTimeoutMs;
  }

  async get(signal: AbortSignal): Promise<FusedMounter> {
    signal.throwIfAborted();
    return this.#connect(true);
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
    const pending = FusedClient.connect(this.#root, { log: this.#log, config: this.#config, spawn, startTimeoutMs: this.#startTimeoutMs });
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
