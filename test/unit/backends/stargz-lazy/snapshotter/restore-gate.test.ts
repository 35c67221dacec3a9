/**
 * While the restore at start runs in the background, calls that need a layer being restored
 * wait for it (bounded by `mountTimeoutMs`), calls on other snapshots do not, and a layer that
 * is not mounted in time is named as `timeout`. The FUSE process is replaced by a stand-in
 * whose "layer" is a tmpfs mounted when the test lets it: what is tested is the snapshotter's
 * waiting, not the FUSE process (restore-remote-snapshots.test.ts runs the real one). Needs root.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FusedLink, FusedMounter, LayerMountRequest } from '../../../../../backends/stargz-lazy/fused-client/fused-link.js';
import { openSnapshotter } from '../../../../../backends/stargz-lazy/snapshotter/open-snapshotter.js';
import { stargzLazyOptions } from '../../../../../backends/stargz-lazy/options.js';
import { LABEL_STARGZ_DIGEST, LABEL_STARGZ_REFERENCE } from '../../../../../backends/stargz-lazy/registry/blob-source.js';
import type { RestoreGated } from '../../../../../backends/stargz-lazy/snapshotter/restore-gate.js';
import { NotFoundError, type Call } from '../../../../../core/sdk.js';
import { allAvailable, mountTmpfs, RunningLink, tmpfsMounter } from './stand-in-fused.js';

const log = pino({ level: 'silent' });
const call: Call = { signal: new AbortController().signal, log };
const L1 = `sha256:${'1'.repeat(64)}`;
const LAYER = `sha256:${'f'.repeat(64)}`;
const options = stargzLazyOptions.parse({ mountTimeoutMs: 1_500 });
/** The labels of the remote prepare of L1. */
const labels = {
  'containerd.io/snapshot.ref': L1,
  [LABEL_STARGZ_REFERENCE]: '127.0.0.1:1/gate/image:esgz',
  [LABEL_STARGZ_DIGEST]: LAYER,
  'containerd.io/snapshot/stargz/toc.digest': `sha256:${'c'.repeat(64)}`,
};

/** Mounts a tmpfs where the layer goes, once `release()` was called (at once when `instant`). */
class StandInLink implements FusedLink {
  readonly requests: LayerMountRequest[] = [];
  #release!: () => void;
  readonly #released: Promise<void>;
  constructor(instant: boolean) {
    this.#released = instant ? Promise.resolve() : new Promise((r) => (this.#release = r));
  }
  release(): void {
    this.#release();
  }
  /** Answers as a process that knows mount, unmount and list only (NOT_FOUND for newer requests). */
  readonly #mounter = tmpfsMounter({
    mount: async (r: LayerMountRequest, signal?: AbortSignal): Promise<void> => {
      this.requests.push(r);
      await Promise.race([this.#released, new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
      mountTmpfs(r.mountpoint);
    },
    check: async (): Promise<never> => {
      throw new NotFoundError('the stand-in does not check layers');
    },
  });
  async get(): Promise<FusedMounter> {
    return this.#mounter;
  }
  async running(): Promise<FusedMounter | undefined> {
    return undefined;
  }
  reset(): void {}
  async close(): Promise<void> {}
}

let root: string;
let sn: RestoreGated | undefined;

async function open(link: StandInLink): Promise<RestoreGated> {
  await sn?.close();
  sn = await openSnapshotter(options, { name: 'stargz-lazy', root, log, signal: new AbortController().signal }, () => link);
  return sn;
}

const standInMounts = async () =>
  (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .filter((l) => l.includes(` ${root}/snapshots/`))
    .map((l) => l.split(' ')[4]!);

function unmountAll(mps: string[]): void {
  for (const m of mps) execFileSync('umount', ['-l', m]);
}

beforeAll(async () => {
  root = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-restore-gate-')));
  const link = new StandInLink(true);
  const s = await open(link);
  await expect(s.prepare(`ns/1/extract ${L1}`, '', labels, call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  await s.prepare('ns/2/ctr', L1, {}, call);
  await s.prepare('ns/3/local', '', {}, call);
});

afterAll(async () => {
  await sn?.close();
  if (root) {
    unmountAll(await standInMounts());
    await rm(root, { recursive: true, force: true });
  }
});

describe('stargz-lazy calls during the restore at start', () => {
  it('mounts on a layer being restored waits for it; other snapshots answer at once', async () => {
    unmountAll(await standInMounts()); // the FUSE process died, taking its mount with it
    const link = new StandInLink(false);
    const s = await open(link);
    let answered = false;
    const waiting = s.mounts('ns/2/ctr', call).finally(() => (answered = true));
    const started = Date.now();
    expect((await s.mounts('ns/3/local', call))[0]!.type).toBe('bind');
    expect(Date.now() - started).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(false);
    expect(link.requests.map((r) => [r.digest, r.reference])).toEqual([[LAYER, '127.0.0.1:1/gate/image:esgz']]);
    link.release();
    const mounts = await waiting;
    expect(mounts[0]!.type).toBe('overlay');
    expect(await s.restored()).toMatchObject({ restored: [L1], failed: [] });
  });

  it('a layer not mounted within mountTimeoutMs fails as timeout; the waiting call then answers UNAVAILABLE', async () => {
    unmountAll(await standInMounts());
    const link = new StandInLink(false); // never released
    const s = await open(link);
    const started = Date.now();
    await expect(s.mounts('ns/2/ctr', call)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(options.mountTimeoutMs - 100);
    expect(waited).toBeLessThan(options.mountTimeoutMs + 2_000);
    const summary = await s.restored();
    expect(summary?.failed).toEqual([{ name: L1, mountpoint: expect.any(String), reason: 'timeout', message: `not mounted within ${options.mountTimeoutMs} ms (the registry is slow or does not answer)` }]);
  });

  it('close cancels a running restore', async () => {
    const link = new StandInLink(false);
    const s = await open(link);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await s.close();
    sn = undefined;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await s.restored())?.failed.map((f) => f.reason)).toEqual(['cancelled']);
  });
});

/**
 * A running process whose check, while `hang` is set, answers 2 s late or when the request's
 * signal aborts; `signals` are those of its check requests, in order. It never holds the
 * client's attachment, so no earlier answer is reused.
 */
function checkingLink(): { link: RunningLink; hang: boolean; signals: (AbortSignal | undefined)[] } {
  const out = { hang: false, signals: [] as (AbortSignal | undefined)[] };
  const check = async (mountpoints: string[], signal?: AbortSignal) => {
    out.signals.push(signal);
    if (out.hang) {
      await new Promise<void>((resolve, reject) => {
        const late = setTimeout(resolve, 2_000); // a check nobody cancels answers, late
        signal?.addEventListener('abort', () => (clearTimeout(late), reject(signal.reason)), { once: true });
      });
    }
    return allAvailable(mountpoints);
  };
  return Object.assign(out, { link: new RunningLink(tmpfsMounter({ check })) });
}

describe("a client's cancel reaches the layer check through the restore gate", () => {
  let base: string;
  let gated: RestoreGated | undefined;
  afterAll(async () => {
    await gated?.close();
    if (!base) return;
    const mine = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(` ${base}/`)).map((l) => l.split(' ')[4]!);
    unmountAll(mine);
    await rm(base, { recursive: true, force: true });
  });

  it('a cancelled Mounts or View call aborts the check it waits for', async () => {
    base = await realpath(await mkdtemp(path.join(tmpdir(), 'stargz-gate-cancel-')));
    const stand = checkingLink();
    gated = await openSnapshotter(options, { name: 'stargz-lazy', root: base, log, signal: new AbortController().signal }, () => stand.link);
    await expect(gated.prepare(`ns/1/extract ${L1}`, '', labels, call)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await gated.prepare('ns/2/ctr', L1, {}, call);
    stand.hang = true;
    const calls = {
      mounts: (c: Call) => gated!.mounts('ns/2/ctr', c),
      view: (c: Call) => gated!.view('ns/3/view', L1, {}, c),
    };
    for (const [method, run] of Object.entries(calls)) {
      const asked = stand.signals.length;
      const cancel = new AbortController();
      const answer = run({ signal: cancel.signal, log });
      for (let waited = 0; stand.signals.length === asked && waited < 2_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
      expect(stand.signals.length, method).toBe(asked + 1);
      cancel.abort(new Error(`the client cancelled ${method}`));
      await expect(answer).rejects.toThrow(`the client cancelled ${method}`);
      expect(stand.signals.at(-1)?.aborted, method).toBe(true);
    }
  });
});
