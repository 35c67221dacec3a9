/**
 * The registry client of the FUSE-serving process, replaceable while layers are served: a
 * new one is made when the configuration changes (`POST /v1/config`) or when containerd's
 * hosts directories change on disk (polled by stats at most every `pollMs`, as cheap as a
 * few `stat`s). Layers read through `blob()`, whose every call takes the CURRENT client: the
 * next read of a not-yet-fetched chunk goes to the new mirrors, with no remount. A call in
 * flight finishes on the client it started with; a replaced client is closed once no call
 * can still be using it (its retry budget plus a margin).
 */
import type { Logger } from '../../../core/sdk.js';
import type { LayerBlobReader } from '../layer/fetch-chunks.js';
import type { LayerBlob } from './blob-source.js';
import type { BlobReader } from './blob-reader.js';
import { fingerprint } from './hosts-dirs.js';
import type { RegistryOptions } from './options.js';
import type { ImageReference } from './reference.js';
import type { RegistryClient } from './registry-client.js';

/** After its retry budget, a replaced client is kept this much longer before it is closed. */
const CLOSE_MARGIN_MS = 60_000;

export interface LiveRegistryOptions {
  options: RegistryOptions;
  /** Makes a client (throws InvalidArgumentError for unusable options). */
  make: (options: RegistryOptions) => RegistryClient;
  log: Logger;
  /** How often the hosts directories are looked at (0: never). */
  pollMs: number;
}

export class LiveRegistry {
  #client: RegistryClient;
  #options: RegistryOptions;
  #generation = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The hosts directories' fingerprint when the current client was made (undefined: not taken yet). */
  #seen: string | undefined;
  /** The hosts directories' fingerprint no client could be made for (not tried again until it changes). */
  #failed: string | undefined;
  readonly #closing = new Set<NodeJS.Timeout>();
  readonly #old = new Set<RegistryClient>();

  constructor(private readonly o: LiveRegistryOptions) {
    this.#options = o.options;
    // Taken while the client reads the directories: a change after it is seen at the next poll.
    const seen = fingerprint(o.options.hostsDirs);
    this.#client = o.make(o.options);
    if (o.pollMs > 0 && o.options.hostsDirs.length > 0) {
      void seen.then((fp) => {
        this.#seen ??= fp;
        this.#poll();
      });
    }
  }

  get current(): RegistryClient {
    return this.#client;
  }

  /** Changes each time the client is replaced. */
  get generation(): number {
    return this.#generation;
  }

  /** A new client from `options` (the hosts directories read again); throws, keeping the old one, when they are unusable. */
  replace(options: RegistryOptions, why: string): void {
    const next = this.o.make(options);
    const old = this.#client;
    this.#client = next;
    this.#options = options;
    this.#generation++;
    this.o.log.info({ why, generation: this.#generation, hostsDirProblems: next.hostsDirs.problems.length }, 'registry client replaced; new reads use it');
    this.#retire(old);
  }

  /** A layer blob whose every read goes through the client current at that moment. */
  blob(reference: ImageReference, layer: LayerBlob): LayerBlobReader {
    let made: { generation: number; reader: BlobReader } | undefined;
    const reader = (): BlobReader => {
      if (made?.generation !== this.#generation) made = { generation: this.#generation, reader: this.#client.blob(reference, layer) };
      return made.reader;
    };
    return {
      digest: layer.digest,
      size: (signal) => reader().size(signal),
      readRanges: (ranges, signal) => reader().readRanges(ranges, signal),
      readTail: (length, signal) => reader().readTail(length, signal),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const t of this.#closing) clearTimeout(t);
    this.#closing.clear();
    await Promise.all([this.#client, ...this.#old].map((c) => c.close().catch(() => undefined)));
  }

  #poll(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void fingerprint(this.#options.hostsDirs).then((now) => {
        if (this.#closed) return;
        if (now !== this.#seen && now !== this.#failed) {
          try {
            this.replace(this.#options, 'a registry hosts directory changed');
            this.#seen = now;
          } catch (err) {
            this.#failed = now;
            this.o.log.error({ err }, 'a registry hosts directory changed, but no new registry client could be made; the old one stays');
          }
        }
        this.#poll();
      });
    }, this.o.pollMs);
    this.#timer.unref();
  }

  #retire(old: RegistryClient): void {
    this.#old.add(old);
    const t = setTimeout(() => {
      this.#closing.delete(t);
      this.#old.delete(old);
      old.close().catch((err: unknown) => this.o.log.warn({ err }, 'closing a replaced registry client failed'));
    }, old.options.retry.totalMs + CLOSE_MARGIN_MS);
    t.unref();
    this.#closing.add(t);
  }
}
