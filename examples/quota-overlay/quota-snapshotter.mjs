/**
 * containerd's overlay snapshotter (the SDK's `OverlaySnapshotter`, on a durable
 * `LmdbMetaStore`) with size quotas enforced where a layer becomes permanent: `commit`
 * measures the active snapshot's upper directory and refuses, with a FailedPreconditionError
 * naming the quota, a layer over `maxLayerSize`, or one that would take the committed layers
 * together over `maxTotalSize`. The refused snapshot stays active, so the caller can remove it.
 * (containerd's unpacker then fails the pull with that message instead of filling the disk.)
 */
import { FailedPreconditionError } from 'snaphost';
import { OverlaySnapshotter } from 'snaphost/overlay';

const EVERYTHING = { source: [], match: () => true };

export class QuotaSnapshotter extends OverlaySnapshotter {
  #maxLayerSize;
  #maxTotalSize;

  /** `options`: those of OverlaySnapshotter, plus `maxLayerSize` / `maxTotalSize` in bytes (undefined: no limit). */
  constructor({ maxLayerSize, maxTotalSize, ...options }) {
    super(options);
    this.#maxLayerSize = maxLayerSize;
    this.#maxTotalSize = maxTotalSize;
  }

  async commit(name, key, labels, call) {
    const info = await this.stat(key, call);
    // Views and committed snapshots: OverlaySnapshotter refuses them with the right error.
    if (info.kind === 'active' && (this.#maxLayerSize !== undefined || this.#maxTotalSize !== undefined)) {
      const { size } = await this.usage(key, call);
      if (this.#maxLayerSize !== undefined && size > this.#maxLayerSize) {
        throw new FailedPreconditionError(`quota: snapshot ${JSON.stringify(key)} holds ${size} bytes, over maxLayerSize (${this.#maxLayerSize} bytes)`);
      }
      if (this.#maxTotalSize !== undefined) {
        const committed = await this.#committedBytes(call);
        if (committed + size > this.#maxTotalSize) {
          throw new FailedPreconditionError(
            `quota: committing snapshot ${JSON.stringify(key)} (${size} bytes) would take the committed layers to ${committed + size} bytes, over maxTotalSize (${this.#maxTotalSize} bytes)`,
          );
        }
      }
    }
    return super.commit(name, key, labels, call);
  }

  /** Bytes of every committed layer (recorded at commit, so this reads metadata only). */
  async #committedBytes(call) {
    let total = 0;
    for await (const info of this.list(EVERYTHING, call)) {
      if (info.kind === 'committed') total += (await this.usage(info.name, call)).size;
    }
    return total;
  }
}
