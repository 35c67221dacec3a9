/**
 * Layers whose mount went away a moment ago, kept opened for a while: containerd removes an
 * image's snapshots at garbage collection and a pull of the same image (a re-pull, a second
 * namespace, a rolled-back deployment) mounts the same layers again; with the layer kept, that
 * mount costs no footer or TOC request and no indexing (the Go snapshotter keeps resolved
 * layers the same way).
 *
 * Bounded: at most `max` layers, each for at most `ttlMs`, oldest first out. A kept layer is
 * handed to one mount only, of the same reference and digest, and only when its TOC digest is
 * the one the mount expects.
 */
import type { MountRequest } from '../protocol/control-protocol.js';

export interface RecentLayersOptions<L> {
  tocDigestOf: (layer: L) => string;
  max: number;
  ttlMs: number;
}

interface Kept<L> {
  layer: L;
  timer: NodeJS.Timeout;
}

export class RecentLayers<L> {
  readonly #kept = new Map<string, Kept<L>>();

  constructor(private readonly o: RecentLayersOptions<L>) {}

  get size(): number {
    return this.#kept.size;
  }

  /** Keep the layer a mount of `request` served (replacing one kept under the same key). */
  put(request: MountRequest, layer: L): void {
    if (this.o.max <= 0) return;
    const key = keyOf(request);
    this.#drop(key);
    while (this.#kept.size >= this.o.max) this.#drop(this.#kept.keys().next().value!);
    const timer = setTimeout(() => this.#drop(key), this.o.ttlMs);
    timer.unref();
    this.#kept.set(key, { layer, timer });
  }

  has(reference: string, digest: string): boolean {
    return this.#kept.has(`${reference}@${digest}`);
  }

  /** The kept layer for this mount (taken: not handed out again), if it is the one expected. */
  take(request: MountRequest): L | undefined {
    const key = keyOf(request);
    const kept = this.#kept.get(key);
    if (!kept) return undefined;
    this.#drop(key);
    if (request.tocDigest !== undefined && this.o.tocDigestOf(kept.layer) !== request.tocDigest) return undefined;
    return kept.layer;
  }

  clear(): void {
    for (const key of [...this.#kept.keys()]) this.#drop(key);
  }

  #drop(key: string): void {
    const kept = this.#kept.get(key);
    if (!kept) return;
    clearTimeout(kept.timer);
    this.#kept.delete(key);
  }
}

function keyOf(r: MountRequest): string {
  return `${r.reference}@${r.digest}`;
}
