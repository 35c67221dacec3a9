/**
 * How much chunk inflation may hold and run at once (gzip bombs: a 64 KiB member can declare
 * 64 MiB, and a prefetch batch holds hundreds of members). One `InflationBudget` per process
 * (fused makes one and hands it to every layer it opens); each layer takes its own share of it
 * with `forLayer`. Before a gzip member is inflated, its bytes (`inflationBytes` in
 * `estargz/chunk.ts`: the window, plus the inflater's scratch or the chunk copies) are acquired
 * from the layer's budget, then from the process's, and held until its chunks are in the cache
 * and handed to the reads that wait for them; the inflation itself runs in one of
 * `maxConcurrentInflations` slots. So the process never holds more than `inflateBudgetBytes`
 * of inflated data in flight, a layer never more than `layerInflateBudgetBytes`, whatever the
 * batches (prefetch, background fetch, region neighbours) ask for.
 *
 * Container reads are the foreground lane: they are served before any waiting prefetch or
 * background member, and those may hold at most BACKGROUND_SHARE of each budget, so a read
 * finds room at once unless other reads fill it. A background member that a read comes to wait
 * for (it joined that fetch) is promoted to the foreground lane (`Priority`).
 */
import type { EstargzLimits } from '../estargz/limits.js';
import { ByteBudget, type Lane, type Lease, type Priority } from './byte-budget.js';

export { Priority, type Lane } from './byte-budget.js';

/** The part of each budget (bytes and slots) prefetch and background fetch may hold. */
export const BACKGROUND_SHARE = 0.75;

type BudgetLimits = Pick<EstargzLimits, 'inflateBudgetBytes' | 'layerInflateBudgetBytes' | 'maxConcurrentInflations'>;

export class InflationBudget {
  /** Inflated bytes held by every layer of the process. */
  readonly bytes: ByteBudget;
  /** Inflations running (one unit each). */
  readonly slots: ByteBudget;

  constructor(readonly limits: BudgetLimits) {
    this.bytes = new ByteBudget('inflateBudgetBytes', limits.inflateBudgetBytes, BACKGROUND_SHARE);
    // With 2 slots, background work takes 1: a read always finds one.
    this.slots = new ByteBudget('maxConcurrentInflations', limits.maxConcurrentInflations, BACKGROUND_SHARE);
  }

  /** A layer's share: its own byte budget in front of the process's. */
  forLayer(layer: string): LayerInflation {
    return new LayerInflation(this, new ByteBudget(`layerInflateBudgetBytes (layer ${layer.slice(0, 80)})`, this.limits.layerInflateBudgetBytes, BACKGROUND_SHARE));
  }
}

export class LayerInflation {
  constructor(
    readonly process: InflationBudget,
    /** Inflated bytes held by this layer. */
    readonly bytes: ByteBudget,
  ) {}

  /**
   * Hold `bytes` of the layer's budget, then of the process's (always in that order: no
   * waiter holds process bytes while it waits for a layer's, so there is no cycle). Rejects
   * with the signal's reason when it aborts first, holding nothing.
   */
  async hold(bytes: number, lane: Lane | Priority, signal?: AbortSignal): Promise<Lease> {
    const layer = await this.bytes.acquire(bytes, lane, signal);
    let proc: Lease;
    try {
      proc = await this.process.bytes.acquire(bytes, lane, signal);
    } catch (err) {
      layer.release();
      throw err;
    }
    return {
      bytes: layer.bytes,
      release: () => {
        proc.release();
        layer.release();
      },
    };
  }

  /** `work` (an inflation) run in one of the process's inflation slots. */
  async inflating<T>(lane: Lane | Priority, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    const slot = await this.process.slots.acquire(1, lane, signal);
    try {
      return await work();
    } finally {
      slot.release();
    }
  }
}
