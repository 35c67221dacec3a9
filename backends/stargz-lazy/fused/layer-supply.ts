/**
 * Where a mount's layer comes from: opened ahead (announced by `POST /v1/open`, or one of the
 * layers above a mounted one: layers-ahead.ts), kept after an unmount for a re-pull
 * (recent-layers.ts), or opened now, its index built before those of layers opened ahead
 * (foreground-first.ts). A layer opened here just had its footer and TOC from the registry:
 * the reachability memory notes that (the check of the next prepare need not ask again).
 */
import type { Logger } from '../../../core/sdk.js';
import { abortable } from '../layer/in-flight.js';
import type { MountRequest, OpenRequest } from '../protocol/control-protocol.js';
import { ForegroundFirst } from './foreground-first.js';
import { reachabilityTarget } from './layer-availability.js';
import { LayersAhead } from './layers-ahead.js';
import type { Reachability } from './reachability.js';
import { RecentLayers } from './recent-layers.js';
import type { ServedLayer } from './served-layer.js';

export type OpenLayer<L> = (r: MountRequest, signal: AbortSignal, beforeIndex?: () => Promise<void>) => Promise<L>;

/** Layers above a mounted one opened ahead at a time, and how long one waits for its mount. */
const OPEN_AHEAD = 3;
const OPEN_AHEAD_TTL_MS = 60_000;
/** Layers kept opened after their unmount (for a re-pull), and for how long. */
const RECENT_LAYERS = 16;
const RECENT_LAYERS_TTL_MS = 10 * 60_000;

export interface LayerSupplyOptions<L> {
  openLayer: OpenLayer<L>;
  reachability: Reachability;
  log: Logger;
}

export class LayerSupply<L extends ServedLayer> {
  readonly #openLayer: OpenLayer<L>;
  readonly #reachability: Reachability;
  /** A mount's own open is indexed before the layers opened ahead. */
  readonly #foreground = new ForegroundFirst();
  readonly #ahead: LayersAhead<L>;
  readonly #recent: RecentLayers<L>;

  constructor(o: LayerSupplyOptions<L>) {
    this.#openLayer = o.openLayer;
    this.#reachability = o.reachability;
    this.#ahead = new LayersAhead({
      // A layer opened ahead just had its footer and TOC from the registry, as a mount's own open.
      open: (r, signal, taken, urgent) =>
        (urgent ? this.#foreground.run(() => this.#openLayer(r, signal)) : this.#openLayer(r, signal, () => this.#foreground.idle(taken))).then((layer) => {
          this.#reachability.noteReachable(reachabilityTarget(r));
          return layer;
        }),
      tocDigestOf: (l) => l.tocDigest,
      log: o.log,
      ahead: OPEN_AHEAD,
      ttlMs: OPEN_AHEAD_TTL_MS,
    });
    this.#recent = new RecentLayers({ tocDigestOf: (l) => l.tocDigest, max: RECENT_LAYERS, ttlMs: RECENT_LAYERS_TTL_MS });
  }

  /** A mount of this layer is on its way: open it now, and the layers above it ahead (unless `skip`). */
  announce(request: OpenRequest, skip: (digest: string) => boolean): void {
    this.#ahead.first({ ...request, mountpoint: '/' }, skip);
  }

  /**
   * The layer of a mount: taken from the layers opened ahead at once (while the layers above
   * it start opening: their requests overlap), else kept from an unmount, else opened now.
   */
  async take(request: MountRequest, signal: AbortSignal, skip: (digest: string) => boolean): Promise<{ layer: L; openedAhead: boolean }> {
    const taking = this.#ahead.take(request);
    this.#ahead.start(request, skip);
    const ahead = (await abortable(taking, signal)) ?? this.#recent.take(request);
    const layer = ahead ?? (await this.#foreground.run(() => this.#openLayer(request, signal)));
    // Its footer and TOC just came from the registry: the check of the next prepare (on this
    // layer as its parent) need not ask again (a layer opened ahead was noted when it opened).
    if (ahead === undefined) this.#reachability.noteReachable(reachabilityTarget(request));
    return { layer, openedAhead: ahead !== undefined };
  }

  /** Keep the layer of an unmount for a re-pull. */
  keep(request: MountRequest, layer: L): void {
    this.#recent.put(request, layer);
  }

  /** Whether the layer is kept after an unmount. */
  kept(reference: string, digest: string): boolean {
    return this.#recent.has(reference, digest);
  }

  /** Drop every layer opened ahead or kept; for shutdown. */
  clear(): void {
    this.#ahead.clear();
    this.#recent.clear();
  }
}
