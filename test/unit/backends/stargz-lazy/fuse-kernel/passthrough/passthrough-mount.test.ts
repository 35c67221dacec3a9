/**
 * Kernel passthrough for real (root, /dev/fuse, the addon, Linux >= 6.9 with
 * CONFIG_FUSE_PASSTHROUGH): a layer served by RemoteLayer over a real chunk cache, mounted with
 * the kernel transport, read from other processes (this thread answers the FUSE requests).
 * A file read once goes through JS (the mount's read counter rises), becomes complete, and a
 * NEW open reads the right bytes (read(2) and mmap) with the counter NOT rising: the kernel read
 * the backing file itself. The FUSE inode's page cache is dropped between the two reads
 * (`dd iflag=nocache count=0`), so a plain open would have had to ask JS again, as the fallback
 * case shows: passthrough refused by the device (EPERM) gives the same bytes through JS, the
 * counter rises, and one warning says so.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadFuseDevice, type FuseDevice } from '../../../../../../backends/stargz-lazy/fuse-kernel/fuse-device.js';
import { mountLayerKernel, type KernelMount } from '../../../../../../backends/stargz-lazy/fuse-kernel/mount-kernel.js';
import { RemoteLayer } from '../../../../../../backends/stargz-lazy/layer/remote-layer.js';
import { buildBlob, sha256 } from '../../estargz/make-blob.js';
import { clientFor, removeTemps, startSwitchableServer, tempCache, type LogLine } from '../../layer/layer-env.js';

const exec = promisify(execFile);
const MiB = 1024 * 1024;
const BIG = randomBytes(3 * MiB + 4321);
const SMALL = randomBytes(50_000);
const canMount = process.getuid?.() === 0 && existsSync('/dev/fuse');
/** FUSE passthrough (BACKING_OPEN) exists since Linux 6.9; the fallback case runs on any kernel. */
const [major, minor] = release().split('.').map(Number) as [number, number];
const hasPassthrough = major > 6 || (major === 6 && minor >= 9);
const EPERM = 1;

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
  await removeTemps();
});

async function mounted(o: { device?: FuseDevice } = {}): Promise<{ mount: KernelMount; mnt: string; layer: RemoteLayer; c: Awaited<ReturnType<typeof tempCache>> }> {
  const { blob } = buildBlob([
    { name: 'big.bin', data: BIG, chunkSize: MiB },
    { name: 'small.bin', data: SMALL },
  ]);
  const server = await startSwitchableServer(blob);
  cleanup.push(() => server.close());
  const t = clientFor(server, sha256(blob));
  cleanup.push(() => t.client.close());
  const c = await tempCache();
  const layer = await RemoteLayer.open({ blob: t.reader(), cache: c.cache, log: c.log, regionBytes: 0 });
  const tmp = await mkdtemp(join(tmpdir(), 'pt-'));
  cleanup.push(() => rm(tmp, { recursive: true, force: true }));
  const mnt = join(tmp, 'm');
  await mkdir(mnt);
  const mount = await mountLayerKernel(mnt, layer, sha256(blob), { log: c.log, readTimeoutMs: 20_000, passthrough: true, device: o.device });
  cleanup.push(() => mount.unmount());
  return { mount, mnt, layer, c };
}

async function cat(path: string): Promise<Buffer> {
  return (await exec('cat', [path], { encoding: 'buffer', maxBuffer: 16 * MiB })).stdout;
}

async function mmapRead(path: string): Promise<Buffer> {
  const py = 'import mmap,sys\nf=open(sys.argv[1],"rb")\nm=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ)\nsys.stdout.buffer.write(m[:])';
  return (await exec('python3', ['-c', py, path], { encoding: 'buffer', maxBuffer: 16 * MiB })).stdout;
}

/** Drops the FUSE inode's page cache (POSIX_FADV_DONTNEED on the whole file): a plain open must ask JS again. */
async function dropPages(path: string): Promise<void> {
  await exec('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/** The kernel sends RELEASE after the reader closed: wait until every open file is released. */
async function released(mount: KernelMount): Promise<void> {
  for (let i = 0; i < 250 && mount.passthrough!.openFiles > 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(mount.passthrough!.openFiles).toBe(0);
}

async function readOnceThenComplete(m: Awaited<ReturnType<typeof mounted>>, name: string, data: Buffer): Promise<number> {
  const path = join(m.mnt, name);
  expect((await cat(path)).equals(data)).toBe(true);
  const reads = m.mount.counters.reads;
  expect(reads).toBeGreaterThan(0); // cold: through JS
  await m.c.cache.flush();
  await m.c.cache.files.idle();
  await released(m.mount);
  await dropPages(path);
  return reads;
}

describe.skipIf(!canMount)('kernel passthrough on a real mount', () => {
  it.skipIf(!hasPassthrough)('a multi-chunk file read once is assembled; a new open reads it kernel-to-disk (read and mmap), the JS read counter still', async () => {
    const m = await mounted();
    const reads = await readOnceThenComplete(m, 'big.bin', BIG);
    const file = m.layer.completeFile(m.layer.index.lookup('big.bin')!)!;
    expect(file.path).toContain(join('files', 'sha256'));
    expect((await cat(join(m.mnt, 'big.bin'))).equals(BIG)).toBe(true);
    expect((await mmapRead(join(m.mnt, 'big.bin'))).equals(BIG)).toBe(true);
    expect(m.mount.counters.reads).toBe(reads);
    // dd's open (dropping the pages), cat's and python's: all three after the file became complete.
    expect(m.mount.passthrough).toMatchObject({ passthroughOpens: 3, refused: 0 });
    await released(m.mount);
    expect(m.mount.passthrough!.backingIdsOpen).toBe(0); // closed at the last release
  }, 60_000);

  it.skipIf(!hasPassthrough)('a one-chunk file passes through from its chunk file, with nothing assembled', async () => {
    const m = await mounted();
    const reads = await readOnceThenComplete(m, 'small.bin', SMALL);
    expect((await cat(join(m.mnt, 'small.bin'))).equals(SMALL)).toBe(true);
    expect(m.mount.counters.reads).toBe(reads);
    expect(m.c.cache.files.stats().assembled).toBe(0);
    expect(m.mount.passthrough!.passthroughOpens).toBe(2); // dd's and cat's
  }, 60_000);

  it('falls back cleanly when the device refuses BACKING_OPEN (EPERM): the same bytes through JS, one warning', async () => {
    const real = loadFuseDevice();
    const refusing: FuseDevice = {
      open: () => real.open(),
      mount: (...a) => real.mount(...a),
      umount: (...a) => real.umount(...a),
      poll: (...a) => real.poll(...a),
      writev: (...a) => real.writev(...a),
      backingOpen: () => -EPERM,
      backingClose: (...a) => real.backingClose(...a),
      takeFd: (...a) => real.takeFd(...a),
    };
    const m = await mounted({ device: refusing });
    const reads = await readOnceThenComplete(m, 'big.bin', BIG);
    expect(m.layer.completeFile(m.layer.index.lookup('big.bin')!)).toBeDefined();
    expect((await cat(join(m.mnt, 'big.bin'))).equals(BIG)).toBe(true);
    expect((await cat(join(m.mnt, 'big.bin'))).equals(BIG)).toBe(true);
    expect(m.mount.counters.reads).toBeGreaterThan(reads);
    expect(m.mount.passthrough).toMatchObject({ passthroughOpens: 0, refused: 1 });
    const warned = m.c.lines.filter((l: LogLine) => l.msg.includes('kernel passthrough off'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, errno: EPERM });
  }, 60_000);
});
