/**
 * One `FusedMounter` over the FUSE-serving processes of several generations (generation.ts):
 * new mounts (and open hints) go to the current generation's process; unmount, check and list
 * go, by mountpoint, to the process that serves it (an older generation keeps serving the layers
 * it mounted before an upgrade); metrics add up. An older process that serves nothing any more
 * is reported through `onDrained` (the link then lets it go, and it exits when idle).
 */
import type { Logger } from '../../../core/sdk.js';
import { FusedUnreachableError } from '../protocol/fused-errors.js';
import type { FusedLayerCheck, FusedMetrics, FusedMountInfo, FusedMounter, LayerMountRequest } from '../fused-client/fused-link.js';
import type { OpenRequest } from '../protocol/control-protocol.js';
import { mergeMetrics } from './merge-metrics.js';

export interface RouterDeps {
  /** The current generation's client; undefined when its process is not running (nothing new is mounted then). */
  current: FusedMounter | undefined;
  /** Clients of the older generations' processes now running, by generation id. */
  older(): Promise<ReadonlyMap<string, FusedMounter>>;
  /** An older generation serves no layer any more (or stopped answering). */
  onDrained(id: string): void;
  log: Logger;
}

export class GenerationRouter implements FusedMounter {
  constructor(private readonly d: RouterDeps) {}

  /** The current generation's client (to reset it when its connection broke). */
  get current(): FusedMounter | undefined {
    return this.d.current;
  }

  get attached(): boolean | undefined {
    return this.d.current?.attached;
  }

  async mount(r: LayerMountRequest, signal?: AbortSignal): Promise<void> {
    await this.#current().mount(r, signal);
  }

  async open(r: OpenRequest): Promise<void> {
    const c = this.#current();
    if (c.open) await c.open(r);
  }

  async unmount(mountpoint: string): Promise<void> {
    const owners = await this.#owners();
    const id = owners.byMountpoint.get(mountpoint);
    if (id === undefined) {
      if (this.d.current) await this.d.current.unmount(mountpoint);
      return;
    }
    const old = owners.clients.get(id)!;
    await old.unmount(mountpoint);
    if ((owners.counts.get(id) ?? 0) <= 1) this.d.onDrained(id);
  }

  async list(): Promise<FusedMountInfo[]> {
    const owners = await this.#owners();
    const current = this.d.current ? await this.d.current.list() : [];
    const seen = new Set(current.map((m) => m.mountpoint));
    return [...current, ...owners.mounts.filter((m) => !seen.has(m.mountpoint))];
  }

  async check(mountpoints: string[], signal?: AbortSignal): Promise<FusedLayerCheck[]> {
    const owners = await this.#owners();
    const groups = new Map<string | undefined, number[]>();
    mountpoints.forEach((mp, i) => {
      const id = owners.byMountpoint.get(mp);
      groups.set(id, [...(groups.get(id) ?? []), i]);
    });
    const out: FusedLayerCheck[] = new Array<FusedLayerCheck>(mountpoints.length);
    await Promise.all(
      [...groups].map(async ([id, idx]) => {
        const asked = idx.map((i) => mountpoints[i]!);
        const client = id === undefined ? this.d.current : owners.clients.get(id);
        const answers = client ? await client.check(asked, signal) : asked.map(unserved);
        idx.forEach((i, k) => (out[i] = answers[k]!));
      }),
    );
    return out;
  }

  async metrics(): Promise<FusedMetrics> {
    const owners = await this.#owners();
    const all = await Promise.all([...(this.d.current ? [this.d.current] : []), ...owners.clients.values()].map((c) => c.metrics()));
    if (all.length === 0) throw new FusedUnreachableError('no FUSE-serving process is running');
    return mergeMetrics(all);
  }

  #current(): FusedMounter {
    if (!this.d.current) throw new FusedUnreachableError('the FUSE-serving process of this generation is not running');
    return this.d.current;
  }

  /** Who serves what among the older generations (asked each time: a handful of small requests). */
  async #owners(): Promise<{ byMountpoint: Map<string, string>; counts: Map<string, number>; clients: Map<string, FusedMounter>; mounts: FusedMountInfo[] }> {
    const byMountpoint = new Map<string, string>();
    const counts = new Map<string, number>();
    const clients = new Map<string, FusedMounter>();
    const mounts: FusedMountInfo[] = [];
    for (const [id, client] of await this.d.older()) {
      let served: FusedMountInfo[];
      try {
        served = await client.list();
      } catch (err) {
        this.d.log.warn({ err, generation: id }, 'a FUSE-serving process of an older generation does not answer');
        this.d.onDrained(id);
        continue;
      }
      if (served.length === 0) {
        this.d.onDrained(id);
        continue;
      }
      clients.set(id, client);
      counts.set(id, served.length);
      for (const m of served) {
        byMountpoint.set(m.mountpoint, id);
        mounts.push(m);
      }
    }
    return { byMountpoint, counts, clients, mounts };
  }
}

function unserved(mountpoint: string): FusedLayerCheck {
  return { mountpoint, served: false, available: false, reason: 'no FUSE-serving process serves it', fetchedBytes: 0, totalBytes: 0 };
}
