/**
 * A layer mounted for real with the kernel transport (root, /dev/fuse, the addon) and used from
 * other processes and the thread pool (this thread answers the FUSE requests: nothing here
 * touches the mount synchronously): listings with attributes, nanosecond mtimes, symlinks,
 * xattrs (size queries and ERANGE), a large read in requests above fuse-native's 128 KiB, a
 * whiteout, a read interrupted by killing its reader while the layer hangs (answered EINTR, the
 * session keeps serving), and the unmount (the session ends, no descriptor left open).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readlink, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChunk } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import type { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import type { LayerNode } from '../../../../../backends/stargz-lazy/estargz/layer-node.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import type { LayerReader } from '../../../../../backends/stargz-lazy/fs/layer-fs.js';
import { mountLayerKernel, type KernelMount } from '../../../../../backends/stargz-lazy/fuse-kernel/mount-kernel.js';
import { buildBlob } from '../estargz/make-blob.js';

const exec = promisify(execFile);
const DIGEST = 'sha256:' + 'ef'.repeat(32);
const MiB = 1024 * 1024;
const BIG = randomBytes(3 * MiB);
const NS_MTIME = '2024-05-17T10:30:43.123456789Z';
const canMount = process.getuid?.() === 0;

let tmp: string;
let mnt: string;
let mount: KernelMount | undefined;
let index: LayerIndex;
/** Lengths of the reads that reached the layer, by file. */
const reads = new Map<string, number[]>();
/** Signals of the reads of slow.bin (which never answer until aborted). */
const slow: AbortSignal[] = [];

/** /dev/fuse descriptors this process holds. */
function fuseFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === '/dev/fuse') n++;
    } catch {
      // closed between the listing and the readlink
    }
  }
  return n;
}

let fdsBefore = 0;

beforeAll(async () => {
  if (!canMount) return;
  const { blob } = buildBlob([
    { name: 'dir/' },
    { name: 'dir/big.bin', data: BIG, chunkSize: MiB },
    { name: 'dir/ns.txt', data: Buffer.from('nanoseconds\n'), entry: { modtime: NS_MTIME } },
    { name: 'dir/link', entry: { type: 'symlink', linkName: 'ns.txt' } },
    { name: 'dir/x.txt', data: Buffer.from('x'), entry: { xattrs: { 'user.long': Buffer.from('a value of 24 bytes long').toString('base64') } } },
    { name: 'dir/.wh.gone', data: Buffer.alloc(0) },
    { name: 'slow.bin', data: Buffer.from('never served') },
  ]);
  ({ index } = await openLayer({ size: blob.length, read: async (o, l) => blob.subarray(o, o + l) }));
  const reader: LayerReader = {
    index,
    async read(node: LayerNode, offset: number, length: number, signal?: AbortSignal) {
      reads.set(node.path, [...(reads.get(node.path) ?? []), length]);
      if (node.path === 'slow.bin') {
        slow.push(signal!);
        return new Promise<Buffer>((_, reject) => signal!.addEventListener('abort', () => reject(signal!.reason as Error)));
      }
      const chunks = index.chunksFor(node, offset, length);
      const parts: Buffer[] = [];
      for (const c of chunks) parts.push(await readChunk(blob.subarray(c.offset, c.offset + c.compressedSize), c));
      const start = offset - (chunks[0]?.chunkOffset ?? offset);
      return Buffer.concat(parts).subarray(start, start + Math.min(length, node.size - offset));
    },
  };
  tmp = await mkdtemp(join(tmpdir(), 'fk-'));
  mnt = join(tmp, 'm');
  await mkdir(mnt);
  fdsBefore = fuseFds();
  mount = await mountLayerKernel(mnt, reader, DIGEST, { log: pino({ level: 'silent' }), readTimeoutMs: 20_000 });
}, 30_000);

afterAll(async () => {
  await mount?.unmount();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Runs python3 `code` (with `M` the mountpoint) in another process and returns its JSON. */
async function py(code: string): Promise<Record<string, unknown>> {
  const { stdout } = await exec('python3', ['-c', `import os, json, ctypes, errno\nM = ${JSON.stringify(mnt)}\nout = {}\n${code}\nprint(json.dumps(out))`]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe.skipIf(!canMount)('a layer mounted with the kernel transport', () => {
  it('shows the mount as fuse.snaphost-stargz from snaphost-stargz:<digest>', async () => {
    const { stdout } = await exec('findmnt', ['-n', '-o', 'FSTYPE,SOURCE,OPTIONS', mnt]);
    expect(stdout).toContain(`fuse.snaphost-stargz snaphost-stargz:${DIGEST}`);
    expect(stdout).toMatch(/\bro\b/);
    expect(stdout).not.toMatch(/nosuid|nodev/);
  });

  it('lists a directory with types and attributes, ns mtimes, symlinks and a whiteout', async () => {
    const names = (await readdir(join(mnt, 'dir'), { withFileTypes: true })).map((d) => `${d.name}:${d.isDirectory() ? 'd' : d.isSymbolicLink() ? 'l' : d.isCharacterDevice() ? 'c' : 'f'}`);
    expect(names.sort()).toEqual(['big.bin:f', 'gone:c', 'link:l', 'ns.txt:f', 'x.txt:f']);
    const ns = await stat(join(mnt, 'dir/ns.txt'), { bigint: true });
    expect(ns.mtimeNs).toBe(1_715_941_843_123_456_789n);
    expect(ns.ctimeNs).toBe(ns.mtimeNs);
    expect(ns.ino).toBe(BigInt(index.lookup('dir/ns.txt')!.ino));
    expect(await readlink(join(mnt, 'dir/link'))).toBe('ns.txt');
    const gone = await stat(join(mnt, 'dir/gone'));
    expect({ chr: gone.isCharacterDevice(), rdev: gone.rdev, mode: gone.mode, uid: gone.uid }).toEqual({ chr: true, rdev: 0, mode: 0o020000, uid: 0 });
    await expect(stat(join(mnt, 'dir/.wh.gone'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(mnt, 'dir/none'))).rejects.toMatchObject({ code: 'ENOENT' });
    const { stdout } = await exec('ls', ['-ln', join(mnt, 'dir')]);
    expect(stdout).toMatch(/^c-{9} 1 0 0 +0, 0 .* gone$/m);
  });

  it('answers statfs from the index (read-only, nothing free)', async () => {
    const s = await statfs(mnt);
    expect({ bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, files: s.files }).toEqual({ bsize: 4096, blocks: Math.ceil(index.fileBytes / 4096), bfree: 0, files: index.size });
  });

  it('answers xattrs: the value, a size query (size 0), and ERANGE for a too small buffer', async () => {
    const out = await py(`
p = (M + '/dir/x.txt').encode()
out['names'] = os.listxattr(M + '/dir/x.txt')
out['value'] = os.getxattr(M + '/dir/x.txt', 'user.long').decode()
libc = ctypes.CDLL(None, use_errno=True)
out['size'] = libc.getxattr(p, b'user.long', None, 0)
buf = ctypes.create_string_buffer(4)
out['small'] = libc.getxattr(p, b'user.long', buf, 4)
out['smallErrno'] = errno.errorcode.get(ctypes.get_errno())
out['listSmall'] = libc.listxattr(p, buf, 4)
out['listErrno'] = errno.errorcode.get(ctypes.get_errno())
try:
  os.getxattr(M + '/dir/x.txt', 'user.none')
except OSError as e:
  out['none'] = errno.errorcode.get(e.errno)
`);
    expect(out).toEqual({ names: ['user.long'], value: 'a value of 24 bytes long', size: 24, small: -1, smallErrno: 'ERANGE', listSmall: -1, listErrno: 'ERANGE', none: 'ENODATA' });
  });

  it('reads a 3 MiB file right, in requests larger than 128 KiB (max_read / max_pages)', async () => {
    const { stdout } = await exec(process.execPath, ['-e', `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(join(mnt, 'dir/big.bin'))}, 'r'); const b = Buffer.alloc(${BIG.length}); let n = 0; while (n < b.length) { const r = fs.readSync(fd, b, n, b.length - n, n); if (r === 0) break; n += r; } console.log(require('crypto').createHash('sha256').update(b.subarray(0, n)).digest('hex'), n)`]);
    expect(stdout.trim()).toBe(`${createHash('sha256').update(BIG).digest('hex')} ${BIG.length}`);
    const sizes = reads.get('dir/big.bin') ?? [];
    expect(Math.max(...sizes)).toBeGreaterThan(128 * 1024);
    expect(mount!.counters.bytesRead).toBeGreaterThanOrEqual(BIG.length);
  });

  it('aborts a read whose reader is killed (INTERRUPT -> EINTR) and keeps serving', async () => {
    const before = slow.length;
    // O_DIRECT: a synchronous FUSE read the kernel interrupts (page-cache reads are sent in the background).
    const child = spawn(process.execPath, ['-e', `const fs = require('fs'); const fd = fs.openSync(${JSON.stringify(join(mnt, 'slow.bin'))}, fs.constants.O_RDONLY | fs.constants.O_DIRECT); fs.readSync(fd, Buffer.alloc(4096), 0, 4096, 0);`], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    for (let i = 0; i < 200 && slow.length === before; i++) await new Promise((r) => setTimeout(r, 25));
    expect(slow.length).toBe(before + 1);
    child.kill('SIGKILL');
    await exited;
    expect(slow.at(-1)!.aborted).toBe(true);
    expect(mount!.session.inFlight).toBe(0);
    expect(mount!.counters.readErrors).toBe(0);
    expect((await stat(join(mnt, 'dir/ns.txt'))).size).toBe(12);
  });

  it('ends the session at unmount (ENODEV) and closes its descriptor', async () => {
    const m = mount!;
    mount = undefined;
    await m.unmount();
    expect(await m.session.ended).toBe(19);
    expect(fuseFds()).toBe(fdsBefore);
    const { stdout } = await exec('findmnt', ['-n', mnt]).catch(() => ({ stdout: '' }));
    expect(stdout).toBe('');
  });
});
