/**
 * What a remote prepare asks of the FUSE-serving process, beyond the mount itself:
 * - an open hint first (`open`, answered at once), before its own checks and metadata
 *   transactions, so the layer's footer and TOC are on their way meanwhile; the hint never
 *   delays or fails a prepare; none for a layer this client unmounted a moment ago through the
 *   same attached process (which keeps it opened for a re-pull);
 * - no second check of a layer it just mounted or checked (within a second, through the same
 *   attached process): the next layer of a pull, and the container, go on the one just mounted.
 * The process is a stand-in that mounts a tmpfs (fused-ahead.test.ts runs the real one). Needs root.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FusedLink, FusedMounter, LayerMountRequest } from '../../../../../backends/stargz-lazy/fused-client/fused-link.js';
import { openSnapshotter } from '../../../../../backends/stargz-lazy/snapshotter/open-snapshotter.js';
import { stargzLazyOptions } from '../../../../../backends/stargz-lazy/options.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_LAYERS, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import type { RestoreGated } from '../../../../../backends/stargz-lazy/snapshotter/restore-gate.js';
import { NotFoundError, type Call } from '../../../../../core/sdk.js';

const log = pino({ level: 'silent' });
const call: Call = { signal: new AbortController().signal, log };
const chain = (c: string) => `sha256:${c.repeat(64)}`;
const LAYER = chain('a');
const ABOVE = chain('b');
const TOC = chain('c');
const REFERENCE = '127.0.0.1:1/hint/image:esgz';
const options = stargzLazyOptions.parse({ startFusedAtOpen: false });

type Hint = Omit<LayerMountRequest, 'mountpoint' | 'prefetchBytes'>;

/**
 * A running process that records hints, mounts and checks in order; `hint: 'none'` is one too
 * old to know hints. `attached` is what the client knows of its attachment.
 */
class StandInLink implements FusedLink {
  readonly events: string[] = [];
  readonly hints: Hint[] = [];
  attached = true;
  constructor(private readonly hint: 'records' | 'none' | 'fails' = 'records') {}
  readonly #mounter: FusedMounter = {
    mount: async (r: LayerMountRequest): Promise<void> => {
      this.events.push(`mount ${r.digest}`);
      execFileSync('mount', ['-t', 'tmpfs', 'stand-in-layer', r.mountpoint]);
    },
    unmount: async (mountpoint: string): Promise<void> => {
      execFileSync('umount', ['-l', mountpoint]);
    },
    list: async () => [],
    check: async (mountpoints: string[]) => {
      this.events.push(`check ${mountpoints.length}`);
      return mountpoints.map((mountpoint) => ({ mountpoint, served: true, available: true, fetchedBytes: 0, totalBytes: 1 }));
    },
    metrics: async (): Promise<never> => {
      throw new NotFoundError('the stand-in has no metrics');
    },
  };
  /** One client, as the real link keeps one while the process answers. */
  readonly #client: FusedMounter = this.#clientOf();
  async get(): Promise<FusedMounter> {
    return this.#client;
  }
  async running(): Promise<FusedMounter | undefined> {
    return this.#client;
  }
  #clientOf(): FusedMounter {
    const link = this;
    const open = async (r: Hint) => {
      this.events.push(`open ${r.digest}`);
      this.hints.push(r);
      if (this.hint === 'fails') throw new Error('connection refused');
    };
    const client = { ...this.#mounter, ...(this.hint === 'none' ? {} : { open }) };
    return Object.defineProperty(client, 'attached', { get: () => link.attached, enumerable: true });
  }
  reset(): void {}
  async close(): Promise<void> {}
}

let base: string;
let root: string;
let sn: RestoreGated | undefined;
let n = 0; // targets (one hex digit each)
let roots = 0;

/** A snapshotter on a fresh root (nothing of an earlier test to restore). */
async function open(link: StandInLink): Promise<RestoreGated> {
  await shut();
  root = path.join(base, String(++roots));
  sn = await openSnapshotter(options, { name: 'stargz-lazy', root, log, signal: new AbortController().signal }, () => link);
  return sn;
}

async function shut(): Promise<void> {
  await sn?.close();
  sn = undefined;
  if (root) for (const m of await standInMounts()) execFileSync('umount', ['-l', m]);
}

const labels = (target: string) => ({
  'containerd.io/snapshot.ref': target,
  [LABEL_STARGZ_REFERENCE]: REFERENCE,
  [LABEL_STARGZ_DIGEST]: LAYER,
  [LABEL_STARGZ_LAYERS]: `${LAYER},${ABOVE}`,
  'containerd.io/snapshot/stargz/toc.digest': TOC,
});

const standInMounts = async () =>
  (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((l) => l.includes(` ${root}/snapshots/`))
    .map((l) => l.split(' ')[4]!);

beforeAll(async () => {
  base = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-open-hint-')));
});

afterEach(shut);

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
});

describe('what a remote prepare asks of the FUSE-serving process', () => {
  it('goes to the running process before the mount request, naming the layer, its TOC and the layers above', async () => {
    const link = new StandInLink();
    const s = await open(link);
    const target = chain(String(++n));
    await expect(s.prepare(`ns/${n}/extract ${target}`, '', labels(target), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(link.events).toEqual([`open ${LAYER}`, `mount ${LAYER}`]);
    expect(link.hints).toEqual([{ reference: REFERENCE, digest: LAYER, tocDigest: TOC, following: [{ digest: ABOVE }] }]);
  });

  it('is not sent for a prepare without the remote labels', async () => {
    const link = new StandInLink();
    const s = await open(link);
    await s.prepare(`ns/${++n}/local`, '', {}, call);
    await s.prepare(`ns/${++n}/unpack`, '', { 'containerd.io/snapshot.ref': chain(String(n)) }, call);
    await new Promise((r) => setImmediate(r));
    expect(link.events).toEqual([]);
  });

  it('a process too old to know it, or a hint that fails, changes nothing for the prepare', async () => {
    for (const kind of ['none', 'fails'] as const) {
      const link = new StandInLink(kind);
      const s = await open(link);
      const target = chain(String(++n));
      await expect(s.prepare(`ns/${n}/extract ${target}`, '', labels(target), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect(link.events.filter((e) => e.startsWith('mount'))).toEqual([`mount ${LAYER}`]);
    }
  });

  it('is not sent again for a layer this client just unmounted (a re-pull after GC), once; nor through a detached process', async () => {
    const link = new StandInLink();
    const s = await open(link);
    const target = chain(String(++n));
    const pull = () => expect(s.prepare(`ns/${n}/extract ${target}`, '', labels(target), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await pull();
    await s.remove(target, call); // containerd's GC: the layer is unmounted through the process
    await pull();
    await s.remove(target, call);
    expect(link.events).toEqual([`open ${LAYER}`, `mount ${LAYER}`, `mount ${LAYER}`]);
    link.attached = false; // the process ended the attachment: what it kept is gone with it
    await pull();
    expect(link.events.slice(3)).toEqual([`open ${LAYER}`, `mount ${LAYER}`]);
    await s.remove(target, call);
    link.attached = true;
    await pull(); // the layer was unmounted through a detached client: the hint goes
    expect(link.events.slice(5)).toEqual([`open ${LAYER}`, `mount ${LAYER}`]);
  });

  it('a layer just mounted is not checked again by the prepares on it; after a second, or once detached, it is', async () => {
    const link = new StandInLink();
    const s = await open(link);
    const target = chain(String(++n));
    await expect(s.prepare(`ns/${n}/extract ${target}`, '', labels(target), call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await s.prepare('ns/ctr-1', target, {}, call);
    await s.mounts('ns/ctr-1', call);
    expect(link.events.filter((e) => e.startsWith('check'))).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_100));
    await s.mounts('ns/ctr-1', call);
    expect(link.events.filter((e) => e.startsWith('check'))).toEqual(['check 1']);
    await s.mounts('ns/ctr-1', call); // that check holds again
    expect(link.events.filter((e) => e.startsWith('check'))).toHaveLength(1);
    link.attached = false; // the process ended the attachment: it stopped or died
    await s.mounts('ns/ctr-1', call);
    expect(link.events.filter((e) => e.startsWith('check'))).toHaveLength(2);
  });
});
