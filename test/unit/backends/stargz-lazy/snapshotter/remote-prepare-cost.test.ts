/**
 * What one remote prepare costs the daemon side: store transactions, parses of its remote
 * labels and checks of the layers below. The labels are parsed once, the layers below checked
 * once, the target's existence answered inside the create's own transaction, and the restore
 * gate, once the restore is over, reads nothing. The process is a
 * stand-in that mounts a tmpfs and never holds the attachment (so no earlier check is reused
 * and every check is counted). Needs root.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openSnapshotter } from '../../../../../backends/stargz-lazy/snapshotter/open-snapshotter.js';
import { stargzLazyOptions } from '../../../../../backends/stargz-lazy/options.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import { LmdbMetaStore } from '../../../../../core/sdk-overlay.js';
import type { Call } from '../../../../../core/sdk.js';
import { allAvailable, RunningLink, tmpfsMounter } from './stand-in-fused.js';

const counts = { parses: 0, namings: 0 };
vi.mock('../../../../../backends/stargz-lazy/snapshotter/remote-request.js', async (original) => {
  const m = await original<typeof import('../../../../../backends/stargz-lazy/snapshotter/remote-request.js')>();
  return {
    ...m,
    remoteRequestFromLabels: (...a: Parameters<typeof m.remoteRequestFromLabels>) => (counts.parses++, m.remoteRequestFromLabels(...a)),
    remoteLayerOfLabels: (...a: Parameters<typeof m.remoteLayerOfLabels>) => (counts.namings++, m.remoteLayerOfLabels(...a)),
  };
});

const log = pino({ level: 'silent' });
const call: Call = { signal: new AbortController().signal, log };
const chain = (c: string) => `sha256:${c.repeat(64)}`;
const options = stargzLazyOptions.parse({ startFusedAtOpen: false });

const labels = (target: string, layer: string) => ({
  'containerd.io/snapshot.ref': target,
  [LABEL_STARGZ_REFERENCE]: '127.0.0.1:1/cost/image:esgz',
  [LABEL_STARGZ_DIGEST]: layer,
  'containerd.io/snapshot/stargz/toc.digest': chain('c'),
});

let root: string;
let sn: Awaited<ReturnType<typeof openSnapshotter>> | undefined;
let checks = 0;
const link = new RunningLink(tmpfsMounter({ check: async (mountpoints) => (checks++, allAvailable(mountpoints)) }));
const reads = vi.spyOn(LmdbMetaStore.prototype, 'read');
const writes = vi.spyOn(LmdbMetaStore.prototype, 'write');

/**
 * What `run` cost: store transactions, parses of the prepare's remote labels (`parses`), of the
 * labels of layers below to name them (`namings`), and layer checks (requests to the process).
 */
async function cost(run: () => Promise<unknown>): Promise<{ transactions: number; parses: number; namings: number; checks: number }> {
  const before = { reads: reads.mock.calls.length, writes: writes.mock.calls.length, ...counts, checks };
  await run().catch(() => undefined);
  return {
    transactions: reads.mock.calls.length - before.reads + writes.mock.calls.length - before.writes,
    parses: counts.parses - before.parses,
    namings: counts.namings - before.namings,
    checks: checks - before.checks,
  };
}

beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-prepare-cost-')));
  sn = await openSnapshotter(options, { name: 'stargz-lazy', root, log, signal: new AbortController().signal }, () => link);
  await sn.restored(); // nothing to restore on a fresh root: calls no longer wait for it
  await expect(sn.prepare(`ns/1/extract ${chain('1')}`, '', labels(chain('1'), chain('a')), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
});

afterAll(async () => {
  await sn?.close();
  if (!root) return;
  for (const l of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) if (l.includes(` ${root}/`)) execFileSync('umount', ['-l', l.split(' ')[4]!]);
  await rm(root, { recursive: true, force: true });
});

describe('what one remote prepare costs (once the restore at start is over)', () => {
  // Before issue 14 (StargzSnapshotter under RestoreGatedSnapshotter): 6 transactions, 1 parse,
  // 1 naming, 1 check; of a target that exists: 4 transactions, 1 parse, 3 namings, 2 checks.
  it('on a remote parent: its labels parsed once, the layer below checked once, three transactions', async () => {
    const c = await cost(() => sn!.prepare(`ns/2/extract ${chain('2')}`, chain('1'), labels(chain('2'), chain('b')), call));
    // read the layers below the parent; write: the target is not there, create; write: commit as the target
    expect(c).toEqual({ transactions: 3, parses: 1, namings: 0, checks: 1 });
  });

  it('of a target that exists: its labels parsed once, the parent and the target checked, two transactions', async () => {
    const c = await cost(() => sn!.prepare(`ns/3/extract ${chain('2')}`, chain('1'), labels(chain('2'), chain('b')), call));
    // read the layers below the parent; write: the target is there (nothing created)
    expect(c).toEqual({ transactions: 2, parses: 1, namings: 0, checks: 2 });
  });
});
