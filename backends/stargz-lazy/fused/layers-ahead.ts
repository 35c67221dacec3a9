/**
 * Layers opened ahead of their mount. A pull prepares an image's layers one after the other,
 * and each mount waits for its layer's footer and TOC (requests, inflating, indexing). The
 * mount request of one layer names the layers above it (`following`), so while containerd
 * commits this one and comes back for the next, the next few are opened here in the background,
 * and their mounts only have to mount.
 *
 * Bounded (issue 5 cares about memory): at most `ahead` layers are opened or held at a time,
 * each for at most `ttlMs` unless its mount takes it; the oldest goes first. An opened layer is
 * handed out only to a mount of the same reference and digest, and only when its TOC digest is
 * the one the mount expects (the TOC is verified against the label as on a normal open);
 * otherwise, or when opening ahead failed, the mount opens the layer itself.
 */
import type { Logger } from '../../../core/sdk.js';
import type { MountRequest } from '../protocol/control-protocol.js';

export interface LayersAheadOptions<L> {
  /**
   * Opens a layer (footer and TOC, verified against `r.tocDigest` when known). `taken` resolves
   * when a mount takes the layer (it then waits for the open); `urgent`: a mount of this layer
   * is on its way (`first`).
   */
  open: (r: MountRequest, signal: AbortSignal, taken: Promise<void>, urgent: boolean) => Promise<L>;
  tocDigestOf: (layer: L) => string;
  log: Logger;
  /** Layers opened ahead at most at a time. */
  ahead: number;
  /** How long an opened layer waits for its mount. */
  ttlMs: number;
}

interface Held<L> {
  promise: Promise<L>;
  stop: AbortController;
  timer: NodeJS.Timeout;
  take: () => void;
}

export class LayersAhead<L> {
  readonly #held = new Map<string, Held<L>>();

  constructor(private readonly o: LayersAheadOptions<L>) {}

  get size(): number {
    return this.#held.size;
  }

  /**
   * Make sure the next `ahead` layers of `request.following` that are not `skip`ped (already
   * served) are opened or being opened; the ones further up wait for a later mount.
   */
  start(request: MountRequest, skip: (digest: string) => boolean): void {
    let window = 0;
    for (const next of request.following ?? []) {
      if (window >= this.o.ahead) break;
      if (skip(next.digest)) continue;
      window++;
      const r: MountRequest = { mountpoint: '/', reference: request.reference, digest: next.digest, ...(next.urls ? { urls: next.urls } : {}) };
      this.#open(r, false);
    }
  }

  /**
   * The layer of `request` itself, whose mount request is on its way (`POST /v1/open`), then
   * the layers above it as `start` does; its own open goes first (`urgent`).
   */
  first(request: MountRequest, skip: (digest: string) => boolean): void {
    if (!skip(request.digest)) this.#open({ ...request, mountpoint: '/', following: [] }, true);
    this.start(request, skip);
  }

  #open(r: MountRequest, urgent: boolean): void {
    const key = keyOf(r.reference, r.digest);
    if (this.#held.has(key)) return;
    this.#evictFor(1);
    const stop = new AbortController();
    let take = (): void => undefined;
    const taken = new Promise<void>((resolve) => (take = resolve));
    const promise = this.o.open(r, stop.signal, taken, urgent);
    // A failure here is only logged: the mount opens the layer itself and reports its own error.
    promise.catch((err: unknown) => {
      if (!stop.signal.aborted) this.o.log.debug({ err, layer: r.digest }, 'opening a layer ahead failed');
    });
    const timer = setTimeout(() => this.#drop(key), this.o.ttlMs);
    timer.unref();
    this.#held.set(key, { promise, stop, timer, take });
  }

  /** The layer opened ahead for this mount, if any and if it is the one the mount expects. */
  async take(request: MountRequest): Promise<L | undefined> {
    const key = keyOf(request.reference, request.digest);
    const held = this.#held.get(key);
    if (!held) return undefined;
    this.#held.delete(key);
    clearTimeout(held.timer);
    held.take();
    let layer: L;
    try {
      layer = await held.promise;
    } catch {
      return undefined;
    }
    if (request.tocDigest !== undefined && this.o.tocDigestOf(layer) !== request.tocDigest) return undefined;
    return layer;
  }

  /** Forget every layer held (their opens are aborted). */
  clear(): void {
    for (const key of [...this.#held.keys()]) this.#drop(key);
  }

  #evictFor(n: number): void {
    for (const key of this.#held.keys()) {
      if (this.#held.size + n <= this.o.ahead) break;
      this.#drop(key);
    }
  }

  #drop(key: string): void {
    const held = this.#held.get(key);
    if (!held) return;
    this.#held.delete(key);
    clearTimeout(held.timer);
    held.stop.abort(new Error('layer opened ahead was not mounted in time'));
  }
}

function keyOf(reference: string, digest: string): string {
  return `${reference}@${digest}`;
}
