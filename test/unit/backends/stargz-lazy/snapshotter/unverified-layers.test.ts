/**
 * A layer whose TOC cannot be tied to the manifest (no `containerd.io/snapshot/stargz/toc.digest`
 * label) is not mounted lazily unless `allowUnverifiedLayers`: its prepare answers an ordinary
 * snapshot (containerd's own pull then verifies the blob against the layer digest), logged
 * with the layer, the image and the reason, and counted in `remote_prepare_fallbacks_total`; a
 * restore at start does not mount it again either. The FUSE process is a stand-in that mounts
 * a tmpfs and records what it is asked. Needs root.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LayerMountRequest } from '../../../../../backends/stargz-lazy/fused-client/fused-link.js';
import { openSnapshotter } from '../../../../../backends/stargz-lazy/snapshotter/open-snapshotter.js';
import { stargzLazyOptions, type StargzLazyOptions } from '../../../../../backends/stargz-lazy/options.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import type { RestoreGated } from '../../../../../backends/stargz-lazy/snapshotter/restore-gate.js';
import type { BackendMetric, Call } from '../../../../../core/sdk.js';
import { mountTmpfs, RunningLink, tmpfsMounter } from './stand-in-fused.js';

const chain = (c: string) => `sha256:${c.repeat(64)}`;
const LAYER = chain('a');
const TOC = chain('c');
const REFERENCE = '127.0.0.1:1/unverified/image:esgz';
const TOC_LABEL = 'containerd.io/snapshot/stargz/toc.digest';

let lines: Record<string, unknown>[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }),
);
const call: Call = { signal: new AbortController().signal, log };

/** A running process that mounts a tmpfs for each layer and records hints and mounts. */
class StandInLink extends RunningLink {
  readonly events: string[] = [];
  readonly mounts: LayerMountRequest[] = [];
  constructor() {
    super({ ...tmpfsMounter(), attached: true });
    const { events, mounts } = this;
    this.client.open = async (r) => void events.push(`open ${r.digest}`);
    this.client.mount = async (r: LayerMountRequest): Promise<void> => {
      events.push(`mount ${r.digest}`);
      mounts.push(r);
      mountTmpfs(r.mountpoint);
    };
  }
}

let base: string;
let root: string;
let roots = 0;
let sn: RestoreGated | undefined;

async function open(link: StandInLink, input: Record<string, unknown> = {}, fresh = true): Promise<RestoreGated> {
  await sn?.close();
  sn = undefined;
  if (fresh) root = path.join(base, String(++roots));
  const options: StargzLazyOptions = stargzLazyOptions.parse({ startFusedAtOpen: false, ...input });
  sn = await openSnapshotter(options, { name: 'stargz-lazy', root, log, signal: new AbortController().signal }, () => link);
  return sn;
}

const standInMounts = async () =>
  (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((l) => l.includes(` ${root}/snapshots/`))
    .map((l) => l.split(' ')[4]!);

async function unmountAll(): Promise<void> {
  for (const m of await standInMounts()) execFileSync('umount', ['-l', m]);
}

const labels = (target: string, toc?: string) => ({
  'containerd.io/snapshot.ref': target,
  [LABEL_STARGZ_REFERENCE]: REFERENCE,
  [LABEL_STARGZ_DIGEST]: LAYER,
  ...(toc !== undefined ? { [TOC_LABEL]: toc } : {}),
});

const fallbacks = (metrics: readonly BackendMetric[] | undefined) =>
  Object.fromEntries(
    (metrics ?? []).filter((m) => m.name === 'remote_prepare_fallbacks_total').map((m) => [m.labels?.['reason'], 'value' in m ? m.value : undefined]),
  );

beforeAll(async () => {
  base = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-unverified-')));
});

afterEach(async () => {
  await sn?.close();
  sn = undefined;
  await unmountAll();
  lines = [];
});

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

describe('a layer without the TOC digest label', () => {
  it('falls back to an ordinary snapshot by default: nothing asked of the FUSE process, one warning with the reason, counted', async () => {
    const link = new StandInLink();
    const s = await open(link);
    const target = chain('1');
    const mounts = await s.prepare(`ns/1/extract ${target}`, '', labels(target), call);
    expect(mounts[0]!.type).toBe('bind');
    await new Promise((r) => setImmediate(r));
    expect(link.events).toEqual([]);
    const warned = lines.filter((l) => l['reason'] === 'unverified_layer');
    expect(warned).toEqual([expect.objectContaining({ level: 40, digest: LAYER, reference: REFERENCE, target })]);
    expect(String(warned[0]!['msg'])).toMatch(/not mounted lazily: it has no containerd\.io\/snapshot\/stargz\/toc\.digest label/);
    expect(String(warned[0]!['msg'])).toContain('allowUnverifiedLayers');
    expect(await standInMounts()).toEqual([]);

    const status = await s.status(call);
    expect(fallbacks(status.metrics)).toEqual({ unverified_layer: 1, malformed_labels: 0, not_estargz: 0, mount_failed: 0 });
  });

  it('is mounted lazily with allowUnverifiedLayers: true (no TOC digest in the request)', async () => {
    const link = new StandInLink();
    const s = await open(link, { allowUnverifiedLayers: true });
    const target = chain('2');
    await expect(s.prepare(`ns/2/extract ${target}`, '', labels(target), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(link.events).toEqual([`open ${LAYER}`, `mount ${LAYER}`]);
    expect(link.mounts[0]!.tocDigest).toBeUndefined();
    expect(lines.filter((l) => l['reason'] === 'unverified_layer')).toEqual([]);
    expect(fallbacks((await s.status(call)).metrics)['unverified_layer']).toBe(0);
  });
});

describe('a layer with the TOC digest label', () => {
  it('is mounted lazily by default, the TOC digest sent for the FUSE process to verify the TOC against', async () => {
    const link = new StandInLink();
    const s = await open(link);
    const target = chain('3');
    await expect(s.prepare(`ns/3/extract ${target}`, '', labels(target, TOC), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(link.events).toEqual([`open ${LAYER}`, `mount ${LAYER}`]);
    expect(link.mounts[0]).toMatchObject({ digest: LAYER, reference: REFERENCE, tocDigest: TOC });
  });
});

describe('restore at start', () => {
  it('does not mount again a layer mounted unverified once the option is off; does with it on', async () => {
    const target = chain('4');
    const s = await open(new StandInLink(), { allowUnverifiedLayers: true });
    await expect(s.prepare(`ns/4/extract ${target}`, '', labels(target), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await s.close();
    sn = undefined;
    await unmountAll(); // the FUSE process died, taking its mount with it

    const off = new StandInLink();
    const restoredOff = await (await open(off, {}, false)).restored();
    expect(off.mounts).toEqual([]);
    expect(restoredOff?.failed).toEqual([
      {
        name: target,
        mountpoint: expect.any(String),
        reason: 'unverified-layer',
        message: expect.stringContaining('have no containerd.io/snapshot/stargz/toc.digest'),
      },
    ]);

    const on = new StandInLink();
    const restoredOn = await (await open(on, { allowUnverifiedLayers: true }, false)).restored();
    expect(restoredOn).toMatchObject({ restored: [target], failed: [] });
    expect(on.mounts.map((m) => m.digest)).toEqual([LAYER]);
  });
});
