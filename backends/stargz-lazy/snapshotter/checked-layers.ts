/**
 * Remote layers whose check passed a moment ago (mounted, answering, readable in full: the
 * LayerHook's `check`, layer-check.ts), or that were mounted a moment ago, by a FUSE-serving
 * process that still holds the client's attachment. A pull prepares each layer on top of the
 * one it just mounted, and the container's prepare follows: checking the layers below again
 * each time cost three requests to that process (mountinfo aside: a statfs through FUSE and
 * `/v1/check`; ~9 ms under a pull's load) that the Go snapshotter, which serves FUSE itself,
 * does not make. An answer holds for `ttlMs`, less than the process's own memo of registry
 * probes (3 s), and only while the same client is attached: the process ends the attachment
 * when it stops, and the kernel does when it dies.
 */
export interface Attached {
  readonly attached?: boolean;
}

/** Entries kept at most; expired ones are dropped first. */
const MAX_ENTRIES = 4096;

export class CheckedLayers {
  readonly #noted = new Map<string, { by: Attached; at: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The layers at `mountpoints` were checked (or mounted) just now through `by`. */
  note(mountpoints: readonly string[], by: Attached): void {
    if (by.attached !== true) return;
    if (this.#noted.size + mountpoints.length > MAX_ENTRIES) this.#prune();
    const at = this.now();
    for (const mp of mountpoints) {
      this.#noted.delete(mp); // re-inserted last: the map stays in age order
      if (this.#noted.size < MAX_ENTRIES) this.#noted.set(mp, { by, at });
    }
  }

  /** True when every layer at `mountpoints` was noted within `ttlMs` through `by`, which is still attached. */
  holds(mountpoints: readonly string[], by: Attached | undefined): boolean {
    if (by === undefined || by.attached !== true || mountpoints.length === 0) return false;
    const now = this.now();
    for (const mp of mountpoints) {
      const e = this.#noted.get(mp);
      if (e === undefined || e.by !== by || now - e.at > this.ttlMs) return false;
    }
    return true;
  }

  /** The layer at `mountpoint` is being unmounted (or failed): no answer about it holds. */
  forget(mountpoint: string): void {
    this.#noted.delete(mountpoint);
  }

  #prune(): void {
    const now = this.now();
    for (const [mp, e] of this.#noted) {
      if (now - e.at <= this.ttlMs) break; // age order: the rest are younger
      this.#noted.delete(mp);
    }
  }
}
