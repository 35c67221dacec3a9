/**
 * containerd's remote-snapshot protocol on the overlay snapshotter (stargz-snapshotter's
 * snapshot/snapshot.go `Prepare`), for a backend that gives it a `LayerHook`:
 *
 * ```
 * prepare(key, parent, {containerd.io/snapshot.ref: <chain>, …})
 *   0. the hook parses the labels, once; the remote layers at or below the parent are checked, once
 *   1. <chain> already committed with that ref label and parent (and its layers pass the check)
 *      -> AlreadyExists at once
 *   2. create active `key` (dirs <id>/{fs,work}) as any prepare (same write transaction as 1)
 *   3. the hook mounts the layer on <id>/fs
 *   4. commit `key` as <chain>, labels + containerd.io/snapshot/remote=remote snapshot
 *   5. AlreadyExists: containerd then finds <chain> with a filtered List and Stat
 * ```
 * A fallback decision of the hook, or a failure in 3 (the hook logs why), answers the mounts of
 * step 2: an ordinary snapshot that containerd fills by unpacking the layer. AlreadyExists is
 * only ever answered when containerd's filtered List will find the target; otherwise containerd
 * would give up (or retry) the pull. Prepares of one target run one after the other (the second
 * then finds the first's). A prepare without a target only has its parent's layers checked.
 */
import { AlreadyExistsError } from '../contract/errors.js';
import { LABEL_REMOTE, LABEL_TARGET_REF } from '../contract/labels.js';
import type { Call, Labels, Mount, Usage } from '../contract/snapshotter.js';
import type { MetaReader, MetaStore, MetaWriter } from '../metastore/metastore.js';
import { REMOTE_SNAPSHOT_LABEL_VALUE, type LayerDecision, type LayerHook, type RemoteLayerRef, type WriteHook } from './layer-hook.js';
import type { OverlayLayout } from './overlay-mounts.js';
import { KeyedLock } from '../runtime/keyed-lock.js';
import { remoteLayersBelow } from './remote-layers-below.js';

/** A snapshot just created: its id (its directory) and its mounts. */
export interface Created {
  id: number;
  mounts: Mount[];
}

/** What the protocol needs of the overlay snapshotter it runs on. */
export interface RemotePrepareParts<L> {
  store: MetaStore;
  layout: OverlayLayout;
  layers: LayerHook<L>;
  beforeWrite?: WriteHook;
  /** Create an active snapshot inside `tx` (the overlay's prepare, `beforeWrite` included). */
  createIn(tx: MetaWriter, kind: 'active', key: string, parent: string, labels: Labels, call: Call): Promise<Created>;
  /** The overlay's remove (releases the hook's layer, then the directory). */
  remove(key: string, call: Call): Promise<void>;
}

export interface RemotePrepare {
  prepare(key: string, parent: string, labels: Labels, call: Call): Promise<Mount[]>;
  /** UnavailableError (from the hook) when a remote layer at or below snapshot `name` cannot be read in full. */
  checkBelow(name: string, call: Call): Promise<void>;
}

const ZERO: Usage = { size: 0, inodes: 0 };

/** The target a prepare's labels name (containerd's `containerd.io/snapshot.ref`), if any. */
export function targetOf(labels: Labels): string | undefined {
  const target = labels[LABEL_TARGET_REF];
  return target === undefined || target === '' ? undefined : target;
}

export function remotePrepare<L>(p: RemotePrepareParts<L>): RemotePrepare {
  const { store, layout, layers } = p;
  /** Remote prepares of one chain id run one after the other (the second then finds the first's). */
  const targets = new KeyedLock();

  async function checkBelow(name: string, call: Call): Promise<void> {
    if (name === '') return;
    const below = await store.read((tx) => remoteLayersBelow(tx, name, layout));
    if (below.length > 0) await layers.check(below, call);
  }

  /**
   * The remote layers at or below `target` when containerd's filtered List
   * (`labels."containerd.io/snapshot.ref"==target,parent==parent`) finds it; undefined otherwise.
   */
  function foundTarget(tx: MetaReader, target: string, parent: string): RemoteLayerRef[] | undefined {
    let found: boolean;
    try {
      const { info } = tx.getInfo(target);
      found = info.kind === 'committed' && info.parent === parent && info.labels[LABEL_TARGET_REF] === target;
    } catch (err) {
      if (codeOf(err) === 'NOT_FOUND') return undefined;
      throw err;
    }
    return found ? remoteLayersBelow(tx, target, layout) : undefined;
  }

  /**
   * True when the found target can be used: a remote one whose layer is no longer served is not
   * offered (containerd then unpacks the layer into an ordinary snapshot of its own name).
   */
  async function usable(target: string, below: RemoteLayerRef[], call: Call, log?: Call['log']): Promise<boolean> {
    if (below.length === 0) return true;
    try {
      await layers.check(below, call);
      return true;
    } catch (err) {
      if (codeOf(err) !== 'UNAVAILABLE') throw err;
      log?.warn({ err, target }, 'target snapshot exists but its remote layer is not served; preparing an ordinary snapshot');
      return false;
    }
  }

  const alreadyExists = (target: string) => new AlreadyExistsError(`target snapshot ${JSON.stringify(target)} already exists`);

  async function prepareTarget(key: string, parent: string, labels: Labels, target: string, decision: LayerDecision<L>, call: Call): Promise<Mount[]> {
    // One write transaction: the target's existence, else the active snapshot.
    let made: { below?: RemoteLayerRef[]; created?: Created } = await store.write(async (tx) => {
      const below = foundTarget(tx, target, parent);
      return below ? { below } : { created: await p.createIn(tx, 'active', key, parent, labels, call) };
    });
    if (made.below) {
      if (await usable(target, made.below, call, call.log)) throw alreadyExists(target);
      made = { created: await store.write((tx) => p.createIn(tx, 'active', key, parent, labels, call)) };
    }
    const { id, mounts } = made.created!;
    if (decision === undefined) return mounts;
    if ('fallback' in decision) {
      decision.note(call);
      return mounts;
    }

    const mountpoint = layout.upperPath(id);
    const log = call.log.child({ target, ...layers.describe?.(decision.layer) });
    const started = Date.now();
    try {
      await layers.mount(mountpoint, decision.layer, { ...call, log });
    } catch {
      return mounts; // the hook logged and counted why, and left nothing mounted
    }

    const remoteLabels = { ...labels, [LABEL_REMOTE]: REMOTE_SNAPSHOT_LABEL_VALUE };
    try {
      await store.write(async (tx) => {
        await p.beforeWrite?.({ op: 'commit', name: target, key, labels: remoteLabels, usage: ZERO }, tx, call);
        tx.commit(key, target, ZERO, remoteLabels);
      });
    } catch (err) {
      // Not expected (prepares of one target are serialized): undo the mount, then either let
      // containerd use the target that appeared, or hand it the ordinary snapshot.
      log.warn({ err }, 'failed to commit remote snapshot');
      await layers.unmount(mountpoint, call);
      if (codeOf(err) === 'ALREADY_EXISTS') {
        const below = await store.read((tx) => foundTarget(tx, target, parent));
        if (below && (await usable(target, below, call))) {
          await p.remove(key, call);
          throw alreadyExists(target);
        }
      }
      return mounts;
    }
    log.info({ ms: Date.now() - started }, 'prepared remote snapshot');
    throw new AlreadyExistsError(`target snapshot ${JSON.stringify(target)}: prepared as a remote snapshot`);
  }

  return {
    checkBelow,
    async prepare(key, parent, labels, call) {
      const target = targetOf(labels ?? {});
      if (target === undefined) {
        await checkBelow(parent, call);
        return (await store.write((tx) => p.createIn(tx, 'active', key, parent, labels, call))).mounts;
      }
      const decision = layers.parse(labels, call);
      await checkBelow(parent, call);
      return targets.run(target, () => prepareTarget(key, parent, labels, target, decision, call));
    },
  };
}

/** The stable `code` of an error (ours, or errno), to match on instead of message text. */
function codeOf(err: unknown): string | undefined {
  const code: unknown = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
