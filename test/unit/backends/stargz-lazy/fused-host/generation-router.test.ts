/**
 * `GenerationRouter`: new mounts go to the current generation; unmount, check and list go by
 * mountpoint to the process that serves it (an older generation keeps its layers); metrics add
 * up; an older process is reported drained once it serves nothing or stops answering.
 */
import { describe, expect, it } from 'vitest';
import type { FusedLayerCheck, FusedMetrics, FusedMountInfo, FusedMounter } from '../../../../../backends/stargz-lazy/fused-client/fused-link.js';
import { GenerationRouter } from '../../../../../backends/stargz-lazy/fused-host/generation-router.js';
import { mergeMetrics } from '../../../../../backends/stargz-lazy/fused-host/merge-metrics.js';
import { quietLog } from '../fused/fused-env.js';

function metrics(n: number): FusedMetrics {
  return {
    registryBytes: n,
    registryReads: n,
    probes: n,
    cache: { hits: n, misses: n, memoryBytes: n, diskBytes: n, diskLimitBytes: 100, evictions: n },
    readLatency: { buckets: [{ le: 0.01, count: n }], sum: n, count: n },
  };
}

/** A fake process: the mountpoints it serves, and every call it got. */
function fake(name: string, served: string[], o: { failList?: boolean } = {}) {
  const calls: string[] = [];
  const mounts = new Set(served);
  const client: FusedMounter & { calls: string[] } = {
    calls,
    attached: true,
    async mount(r) {
      calls.push(`mount ${r.mountpoint}`);
      mounts.add(r.mountpoint);
    },
    async unmount(mp) {
      calls.push(`unmount ${mp}`);
      mounts.delete(mp);
    },
    async list() {
      if (o.failList) throw new Error(`${name} is gone`);
      return [...mounts].map((mountpoint) => ({ mountpoint, digest: `sha256:${name}`, reference: name, state: 'mounted' }) as FusedMountInfo);
    },
    async check(mps) {
      calls.push(`check ${mps.join(',')}`);
      return mps.map((mountpoint): FusedLayerCheck => ({ mountpoint, served: mounts.has(mountpoint), available: true, reason: name, fetchedBytes: 0, totalBytes: 0 }));
    },
    async metrics() {
      return metrics(name === 'new' ? 1 : 10);
    },
  };
  return client;
}

function router(current: FusedMounter | undefined, older: Record<string, FusedMounter>) {
  const drained: string[] = [];
  const r = new GenerationRouter({ current, older: async () => new Map(Object.entries(older)), onDrained: (id) => drained.push(id), log: quietLog });
  return { r, drained };
}

describe('GenerationRouter', () => {
  it('mounts on the current generation and routes unmount and check by mountpoint', async () => {
    const cur = fake('new', ['/s/3/fs']);
    const old = fake('old', ['/s/1/fs', '/s/2/fs']);
    const { r, drained } = router(cur, { aaaaaaaa: old });
    await r.mount({ mountpoint: '/s/4/fs' } as never);
    expect(cur.calls).toEqual(['mount /s/4/fs']);
    expect((await r.list()).map((m) => m.mountpoint).sort()).toEqual(['/s/1/fs', '/s/2/fs', '/s/3/fs', '/s/4/fs']);
    const checks = await r.check(['/s/3/fs', '/s/1/fs', '/s/9/fs', '/s/2/fs']);
    expect(checks.map((c) => [c.mountpoint, c.reason])).toEqual([
      ['/s/3/fs', 'new'],
      ['/s/1/fs', 'old'],
      ['/s/9/fs', 'new'],
      ['/s/2/fs', 'old'],
    ]);
    await r.unmount('/s/1/fs');
    expect(old.calls).toContain('unmount /s/1/fs');
    expect(drained).toEqual([]);
    await r.unmount('/s/2/fs');
    expect(drained).toEqual(['aaaaaaaa']);
    await r.unmount('/s/3/fs');
    expect(cur.calls).toContain('unmount /s/3/fs');
  });

  it('drops an older process that serves nothing or does not answer', async () => {
    const { r, drained } = router(fake('new', []), { aaaaaaaa: fake('idle', []), bbbbbbbb: fake('dead', ['/x'], { failList: true }) });
    expect(await r.list()).toEqual([]);
    expect(drained.sort()).toEqual(['aaaaaaaa', 'bbbbbbbb']);
  });

  it('without a current process: lists and unmounts the older ones, refuses a mount, answers unserved', async () => {
    const old = fake('old', ['/s/1/fs']);
    const { r } = router(undefined, { aaaaaaaa: old });
    expect((await r.list()).map((m) => m.mountpoint)).toEqual(['/s/1/fs']);
    await expect(r.mount({ mountpoint: '/s/2/fs' } as never)).rejects.toThrow(/not running/);
    expect((await r.check(['/s/2/fs']))[0]).toMatchObject({ served: false, available: false });
    await r.unmount('/s/2/fs');
    expect(old.calls).toEqual([]);
  });

  it('adds up the metrics of every process', async () => {
    const { r } = router(fake('new', []), { aaaaaaaa: fake('old', ['/s/1/fs']) });
    const m = await r.metrics();
    expect(m.registryBytes).toBe(11);
    expect(m.cache.diskLimitBytes).toBe(200);
    expect(m.readLatency.buckets).toEqual([{ le: 0.01, count: 11 }]);
    expect(mergeMetrics([metrics(1), { ...metrics(2), cache: { ...metrics(2).cache, diskLimitBytes: 0 } }]).cache.diskLimitBytes).toBe(0);
  });
});
