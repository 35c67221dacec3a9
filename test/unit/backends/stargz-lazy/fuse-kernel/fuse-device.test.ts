/**
 * The kernel FUSE transport's addon against the real kernel (as root, /dev/fuse): a mount made
 * with it delivers INIT through poll, a stat done on another thread (fs.promises.stat runs on
 * libuv's pool) arrives as GETATTR and gets our hand-encoded reply, nanoseconds included;
 * umount ends the poll with ENODEV. Around it: writev to an unknown request, an exception in
 * the request handler (a warning, the poll goes on), stop() from inside a callback, the
 * passthrough ioctl before passthrough was negotiated, takeFd of another process's pipe.
 * The messages are encoded here by hand, from the kernel's uapi fuse.h, so this suite checks
 * the addon, not the wire codec.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFuseDevice, MNT_DETACH, MS_NODEV, MS_NOSUID, MS_RDONLY, type FuseDevice } from '../../../../../backends/stargz-lazy/fuse-kernel/fuse-device.js';

const ENOENT = 2;
const ESRCH = 3;
const ENODEV = 19;
const ENOSYS = 38;
const OP_GETATTR = 3;
const OP_INIT = 26;
const IN_HEADER = 40;
const ROOT_MTIME_NS = 1_700_000_000_123_456_789n;
const ROOT_INO = 0x1_0000_0001n; // above 32 bits: the kernel takes 64-bit inode numbers

const runnable = process.getuid?.() === 0 && existsSync('/dev/fuse');
let device: FuseDevice;

interface Request {
  opcode: number;
  unique: bigint;
  body: Buffer;
}

function header(buf: Buffer, length: number): Request {
  return { opcode: buf.readUInt32LE(4), unique: buf.readBigUInt64LE(8), body: Buffer.from(buf.subarray(IN_HEADER, length)) };
}

function reply(unique: bigint, body: Buffer = Buffer.alloc(0), error = 0): Buffer[] {
  const out = Buffer.alloc(16);
  out.writeUInt32LE(16 + body.length, 0);
  out.writeInt32LE(-error, 4);
  out.writeBigUInt64LE(unique, 8);
  return body.length > 0 ? [out, body] : [out];
}

/** fuse_init_out (64 bytes, 7.31 layout): no optional feature asked for. */
function initOut(): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(7, 0); // major
  b.writeUInt32LE(31, 4); // minor
  b.writeUInt32LE(128 * 1024, 8); // max_readahead
  b.writeUInt32LE(0, 12); // flags
  b.writeUInt16LE(16, 16); // max_background
  b.writeUInt16LE(12, 18); // congestion_threshold
  b.writeUInt32LE(128 * 1024, 20); // max_write
  b.writeUInt32LE(1, 24); // time_gran: nanoseconds
  b.writeUInt16LE(32, 28); // max_pages
  return b;
}

/** fuse_attr_out: attr_valid 0 (every stat asks again), the root directory's fuse_attr. */
function rootAttrOut(): Buffer {
  const b = Buffer.alloc(16 + 88);
  const a = 16;
  b.writeBigUInt64LE(ROOT_INO, a);
  b.writeBigUInt64LE(4096n, a + 8); // size
  b.writeBigUInt64LE(8n, a + 16); // blocks
  for (const o of [24, 32, 40]) b.writeBigUInt64LE(ROOT_MTIME_NS / 1_000_000_000n, a + o); // atime, mtime, ctime
  for (const o of [48, 52, 56]) b.writeUInt32LE(Number(ROOT_MTIME_NS % 1_000_000_000n), a + o);
  b.writeUInt32LE(0o40755, a + 60); // mode
  b.writeUInt32LE(2, a + 64); // nlink
  b.writeUInt32LE(4096, a + 80); // blksize
  return b;
}

let mnt: string | undefined;
let fd = -1;
let mounted = false;
/** Every poll started, stopped after each test before its descriptor is closed. */
const polls: { stop(): void }[] = [];

beforeEach(async () => {
  if (!runnable) return;
  device = loadFuseDevice();
  mnt = await mkdtemp(join(tmpdir(), 'h17fd-'));
});

afterEach(async () => {
  for (const p of polls.splice(0)) p.stop();
  if (mounted && mnt !== undefined) device.umount(mnt, MNT_DETACH);
  mounted = false;
  if (fd >= 0) closeSync(fd);
  fd = -1;
  if (mnt !== undefined) await rm(mnt, { recursive: true, force: true });
  mnt = undefined;
});

function mountHere(): void {
  fd = device.open();
  device.mount(mnt!, 'snaphost-test', 'fuse.snaphost-test', MS_RDONLY | MS_NOSUID | MS_NODEV, `fd=${fd},rootmode=40000,user_id=0,group_id=0,allow_other,max_read=131072`);
  mounted = true;
}

/** Polls the mount: INIT answered (then `afterInit` runs), GETATTR with the root's attributes, the rest ENOSYS. */
function serve(afterInit: (unique: bigint) => void = () => {}): { seen: Request[]; ended: Promise<number>; stop: () => void } {
  const buf = Buffer.alloc(256 * 1024);
  const seen: Request[] = [];
  let stop = (): void => {};
  const ended = new Promise<number>((resolve) => {
    const handle = device.poll(fd, buf, 16, (length) => {
      const req = header(buf, length);
      seen.push(req);
      if (req.opcode === OP_INIT) {
        device.writev(fd, reply(req.unique, initOut()));
        afterInit(req.unique);
      } else if (req.opcode === OP_GETATTR) device.writev(fd, reply(req.unique, rootAttrOut()));
      else device.writev(fd, reply(req.unique, Buffer.alloc(0), ENOSYS));
    }, resolve);
    polls.push(handle);
    stop = () => handle.stop();
  });
  return { seen, ended, stop };
}

describe.skipIf(!runnable)('FuseDevice on the real /dev/fuse', () => {
  it('serves INIT and GETATTR through poll (nanoseconds, 64-bit inode) and ends with ENODEV at umount', async () => {
    mountHere();
    let unknownWrite = 0;
    const { seen, ended } = serve((unique) => {
      unknownWrite = device.writev(fd, reply(unique + 1_000_000n, Buffer.alloc(0), ENOSYS));
    });
    const st = await stat(mnt!, { bigint: true });
    expect(st.isDirectory()).toBe(true);
    expect(st.ino).toBe(ROOT_INO);
    expect(st.mtimeNs).toBe(ROOT_MTIME_NS);
    expect(seen[0]!.opcode).toBe(OP_INIT);
    expect(seen[0]!.body.readUInt32LE(0)).toBe(7); // the kernel's major version
    expect(seen.map((r) => r.opcode)).toContain(OP_GETATTR);
    expect(unknownWrite).toBe(-ENOENT); // no such request: already answered
    expect(device.umount(mnt!, 0)).toBe(0);
    mounted = false;
    expect(await ended).toBe(ENODEV);
  });

  it('turns an exception of the handler into a warning and goes on serving', async () => {
    mountHere();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const { ended } = serve(() => {
        throw new Error('thrown by the handler after its reply');
      });
      const st = await stat(mnt!, { bigint: true });
      expect(st.ino).toBe(ROOT_INO); // GETATTR came after the throw and was served
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => w.message)).toContain('thrown by the handler after its reply');
      expect(device.umount(mnt!, MNT_DETACH)).toBe(0);
      mounted = false;
      expect(await ended).toBe(ENODEV);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('stop() inside the handler ends the poll without onEnd; twice is harmless', async () => {
    mountHere();
    const buf = Buffer.alloc(64 * 1024);
    const opcodes: number[] = [];
    let endCalls = 0;
    const handle = device.poll(fd, buf, 16, (length) => {
      const req = header(buf, length);
      opcodes.push(req.opcode);
      device.writev(fd, reply(req.unique, initOut()));
      handle.stop();
      handle.stop();
    }, () => void endCalls++);
    polls.push(handle);
    await new Promise((r) => setTimeout(r, 200));
    expect(opcodes).toEqual([OP_INIT]);
    handle.stop();
    expect(device.umount(mnt!, MNT_DETACH)).toBe(0);
    mounted = false;
    await new Promise((r) => setTimeout(r, 100));
    expect(endCalls).toBe(0);
  });

  it('backingOpen before passthrough was negotiated is a negative errno, backingClose of no id too', async () => {
    mountHere();
    const { ended } = serve();
    await stat(mnt!);
    const file = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      expect(device.backingOpen(fd, file)).toBeLessThan(0);
      expect(device.backingClose(fd, 12345)).toBeLessThan(0);
    } finally {
      closeSync(file);
    }
    device.umount(mnt!, MNT_DETACH);
    mounted = false;
    expect(await ended).toBe(ENODEV);
  });

  it('rejects bad arguments: poll with a buffer below 8 KiB throws, writev of a non-array is -EINVAL', () => {
    fd = device.open();
    expect(() => device.poll(fd, Buffer.alloc(4096), 1, () => {}, () => {})).toThrow(/8192/);
    expect(device.writev(fd, 'x' as unknown as Uint8Array[])).toBe(-22);
    expect(() => device.mount('relative', 's', 'fuse.x', 0, '')).toThrow(/absolute path/);
    expect(device.umount(mnt!, 0)).toBeLessThan(0); // not a mount point
  });
});

describe.skipIf(!runnable)('FuseDevice.takeFd', () => {
  it("duplicates another process's descriptor: what the child wrote into its pipe is read here", async () => {
    const child = spawn('bash', ['-c', 'exec 3< <(printf hello-from-child); echo ready; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const taken = device.takeFd(child.pid!, 3);
      expect(taken).toBeGreaterThan(2);
      try {
        expect(readFileSync(taken, 'utf8')).toBe('hello-from-child');
      } finally {
        closeSync(taken);
      }
      expect(device.takeFd(child.pid!, 999)).toBe(-9); // EBADF: no such descriptor there
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('is -ESRCH for a process that does not exist', () => {
    expect(device.takeFd(2 ** 22 + 12345, 0)).toBe(-ESRCH);
  });
});

describe('loadFuseDevice', () => {
  it('names the missing addon and how to build it when it is not built', async () => {
    // The loader copied where no addon was built next to it or in its application directory.
    const dir = await mkdtemp(join(tmpdir(), 'h17fl-'));
    try {
      const copy = join(dir, 'a/b/c/d/fuse-device.ts');
      await mkdir(join(dir, 'a/b/c/d'), { recursive: true });
      await copyFile(fileURLToPath(new URL('../../../../../backends/stargz-lazy/fuse-kernel/fuse-device.ts', import.meta.url)), copy);
      const mod = (await import(copy)) as { loadFuseDevice: () => FuseDevice };
      expect(() => mod.loadFuseDevice()).toThrow(/snaphost_fuse_kernel\.node is not built \(looked for .*a\/b\/c\/d\/native\/build\/Release.*run npm install with a C compiler/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
