/**
 * Layers this client unmounted a moment ago through a FUSE-serving process that still holds the
 * client's attachment. The process keeps such a layer opened for a re-pull
 * (fused/recent-layers.ts: the last 16, each for 10 minutes), so the open hint of a remote
 * prepare of it (`POST /v1/open`) would only be answered "kept, nothing to open": a control
 * round trip through both processes, on the prepare's path, for nothing (the second rpull of an
 * image after containerd's GC removed its snapshots: one per layer). The hint is not sent then.
 *
 * Remembered: the layer of each mount this client made (by mountpoint), and once it unmounted it,
 * that layer (reference and digest) for `ttlMs`, at most `max` of them (the process's own bound;
 * the oldest go first), each taken by one prepare, as the process hands a kept layer to one
 * mount. An answer holds only through the client that unmounted (the process ends the
 * attachment when it stops, and with it what it kept). Wrong only ever in the slow direction:
 * when the process dropped the layer meanwhile, the mount opens it itself, without the head start.
 */
import type { Attached } from './checked-layers.js';

/** A layer as the process keys what it keeps: the image reference and the blob digest. */
export interface LayerKey {
  reference: string;
  digest: string;
}

export interface UnmountedLayersOptions {
  /** How long an unmounted layer counts as kept (less than the process keeps it). */
  ttlMs: number;
  /** Unmounted layers remembered at most (the process's own bound). */
  max: number;
  now?: () => number;
}

/** Mounts remembered at most (mountpoint -> layer); the oldest go first. */
const MAX_MOUNTED = 4096;

const keyOf = (l: LayerKey): string => `${l.reference}\n${l.digest}`;

export class UnmountedLayers {
  readonly #mounted = new Map<string, string>();
  readonly #unmounted = new Map<string, { by: Attached; at: number }>();
  readonly #now: () => number;

  constructor(private readonly o: UnmountedLayersOptions) {
    this.#now = o.now ?? (() => performance.now());
  }

  /** This client mounted `layer` at `mountpoint`. */
  mounted(mountpoint: string, layer: LayerKey): void {
    this.#mounted.delete(mountpoint);
    if (this.#mounted.size >= MAX_MOUNTED) this.#mounted.delete(this.#mounted.keys().next().value!);
    this.#mounted.set(mountpoint, keyOf(layer));
  }

  /** The process `by` unmounted what this client mounted at `mountpoint` (and keeps its layer). */
  unmounted(mountpoint: string, by: Attached): void {
    const key = this.#mounted.get(mountpoint);
    this.#mounted.delete(mountpoint);
    if (key === undefined || by.attached !== true || this.o.max <= 0) return;
    this.#unmounted.delete(key); // re-inserted last: the map stays in age order
    while (this.#unmounted.size >= this.o.max) this.#unmounted.delete(this.#unmounted.keys().next().value!);
    this.#unmounted.set(key, { by, at: this.#now() });
  }

  /** The mount at `mountpoint` failed or went away otherwise: nothing is known of its layer. */
  forget(mountpoint: string): void {
    this.#mounted.delete(mountpoint);
  }

  /**
   * True when `layer` was unmounted through `by` within `ttlMs` and `by` is still attached:
   * the process keeps it. Taken: a second prepare of the same layer is told false.
   */
  take(layer: LayerKey, by: Attached | undefined): boolean {
    const key = keyOf(layer);
    const e = this.#unmounted.get(key);
    if (e === undefined) return false;
    this.#unmounted.delete(key);
    return by !== undefined && by.attached === true && e.by === by && this.#now() - e.at <= this.o.ttlMs;
  }
}
