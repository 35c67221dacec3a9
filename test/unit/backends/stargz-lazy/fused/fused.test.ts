/**
 * The FUSE-serving process for real: started by FusedClient (main.ts through vite-node), the
 * eStargz fixture blobs served by Debian's docker-registry on 127.0.0.1, real FUSE mounts,
 * everything looked at from child processes (stat, getfattr, sha256sum, ls, overlay mounts),
 * never from the process that serves the mounts.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { mountInfoSchema, statusSchema } from '../../../../../backends/stargz-lazy/protocol/control-protocol.js';
import { closedPort } from '../registry/servers/listen.js';
import { startDockerRegistry, type DockerRegistry } from '../registry/servers/docker-registry.js';
import { fixtures, fusedCommand, isAlive, mountsUnder, quietLog, run, stopProcess, unmountAllUnder } from './fused-env.js';
import { expectMatchesFixture, inspectTree, TYPE_BITS, xattrsOf, type ExpectedEntry } from './inspect-tree.js';

interface Fixture {
  tocDigest: string;
  entries: ExpectedEntry[];
}

let tmp: string;
let root: string;
let registry: DockerRegistry;
let client: FusedClient;
const blobs: Record<'full' | 'plain' | 'notEstargz', string> = { full: '', plain: '', notEstargz: '' };
let full: Fixture;
let plain: Fixture;
const started: number[] = [];

const config = { registry: { retry: { retries: 0 } }, fs: { readTimeoutMs: 20_000 }, logLevel: 'debug' as const };
const reference = (repo: string) => `${registry.host}/${repo}:latest`;

async function newMountpoint(name: string): Promise<string> {
  const dir = join(tmp, 'mnt', name);
  await mkdir(dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-test-'));
  root = join(tmp, 'root');
  registry = await startDockerRegistry();
  full = JSON.parse(await readFile(`${fixtures}full.expected.json`, 'utf8')) as Fixture;
  plain = JSON.parse(await readFile(`${fixtures}plain.expected.json`, 'utf8')) as Fixture;
  blobs.full = await registry.pushBlob('test/full', await readFile(`${fixtures}full.estargz`));
  blobs.plain = await registry.pushBlob('test/plain', await readFile(`${fixtures}plain.estargz`));
  blobs.notEstargz = await registry.pushBlob('test/ordinary', gzipSync(Buffer.alloc(100_000, 'ordinary layer ')));
}, 60_000);

afterAll(async () => {
  for (const pid of started) await stopProcess(pid);
  if (tmp) {
    await unmountAllUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  }
  await registry?.stop();
}, 60_000);

describe('FusedClient and the FUSE-serving process', () => {
  it('starts the process when none answers, with a private socket and root', async () => {
    client = await FusedClient.connect(root, { log: quietLog, config, command: fusedCommand, startTimeoutMs: 30_000 });
    started.push(client.status.pid);
    expect(isAlive(client.status.pid)).toBe(true);
    // The answers are what the protocol's schemas say.
    expect(statusSchema.strict().parse(client.status)).toEqual(client.status);
    expect((await stat(join(root, 'fused.sock'))).mode & 0o777).toBe(0o600);
    expect((await stat(root)).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'fused.json'))).mode & 0o777).toBe(0o600);
    expect(await client.list()).toEqual([]);
  }, 60_000);

  it('mounts full.estargz and shows every entry as the writer was given it', async () => {
    const mnt = await newMountpoint('full');
    await client.mount({ mountpoint: mnt, reference: reference('test/full'), digest: blobs.full, tocDigest: full.tocDigest });
    expect(await mountsUnder(mnt)).toEqual([mnt]);
    const seen = await inspectTree(mnt);
    expectMatchesFixture(seen, full.entries);
    // Whiteout, opaque marker, landmark: presented the overlayfs way, never listed by their own names.
    expect([...seen.keys()].filter((p) => p.split('/').pop()!.startsWith('.'))).toEqual([]);
    expect(seen.get('removed-file')!.mode).toBe(TYPE_BITS.char);
    expect(await xattrsOf(join(mnt, 'opaque'))).toEqual({ 'trusted.overlay.opaque': Buffer.from('y').toString('base64') });
    // Hard links share an inode and count their names.
    expect(seen.get('data/hard-to-small')!.ino).toBe(seen.get('data/small.txt')!.ino);
    expect(seen.get('data/small.txt')!.nlink).toBe(2);
    const ls = await run('ls', ['-laR', mnt]);
    expect(ls.code, ls.stderr).toBe(0);
    const [info] = await client.list();
    expect(mountInfoSchema.strict().parse(info)).toEqual(info);
    expect(info).toMatchObject({ mountpoint: mnt, digest: blobs.full, reference: reference('test/full'), state: 'mounted', tocDigest: full.tocDigest });
  }, 60_000);

  it('answers getxattr/listxattr with a too-small buffer with ERANGE, and size queries with the size', async () => {
    const file = join(tmp, 'mnt', 'full', 'data', 'xattr.txt');
    const probe = [
      'import ctypes, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'p = sys.argv[1].encode()',
      'def call(f, *a):',
      '    r = f(*a); return (r, ctypes.get_errno() if r < 0 else 0)',
      'small = ctypes.create_string_buffer(2)',
      'print(call(libc.getxattr, p, b"user.fixture", None, 0))',
      'print(call(libc.getxattr, p, b"user.fixture", small, 2))',
      'print(call(libc.listxattr, p, None, 0)[0] >= 36)',
      'print(call(libc.listxattr, p, small, 2))',
      'print(call(libc.getxattr, p, b"user.none", None, 0))',
    ].join('\n');
    const out = await run('python3', ['-c', probe, file]);
    expect(out.code, out.stderr).toBe(0);
    // 7 = length of "value-1"; 34 = ERANGE; 61 = ENODATA.
    expect(out.stdout.trim().split('\n')).toEqual(['(7, 0)', '(-1, 34)', 'True', '(-1, 34)', '(-1, 61)']);
  });

  it('is read-only', async () => {
    const mnt = join(tmp, 'mnt', 'full');
    const write = await run('sh', ['-c', `echo x > ${mnt}/etc/hostname`]);
    expect(write.code).not.toBe(0);
    expect(write.stderr).toMatch(/Read-only file system/);
    expect((await run('touch', [`${mnt}/new`])).code).not.toBe(0);
  });

  it('mounting the same layer again is a no-op; another layer there is refused', async () => {
    const mnt = join(tmp, 'mnt', 'full');
    await client.mount({ mountpoint: mnt, reference: reference('test/full'), digest: blobs.full });
    await expect(client.mount({ mountpoint: mnt, reference: reference('test/plain'), digest: blobs.plain })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    expect(await mountsUnder(mnt)).toEqual([mnt]);
  });

  it('mounts plain.estargz (4 MiB chunks, absolute symlink, no prefetch)', async () => {
    const mnt = await newMountpoint('plain');
    await client.mount({ mountpoint: mnt, reference: reference('test/plain'), digest: blobs.plain, tocDigest: plain.tocDigest, prefetchBytes: 1 << 20 });
    expectMatchesFixture(await inspectTree(mnt), plain.entries);
  }, 60_000);

  it('stacks under overlayfs: whiteouts hide lower names, opaque dirs hide lower content', async () => {
    const lower = join(tmp, 'lower-base');
    await mkdir(join(lower, 'opaque'), { recursive: true });
    await mkdir(join(lower, 'etc'), { recursive: true });
    await writeFile(join(lower, 'removed-file'), 'deleted by the upper layer\n');
    await writeFile(join(lower, 'opaque', 'hidden'), 'hidden by the opaque dir\n');
    await writeFile(join(lower, 'etc', 'base-only'), 'from the base layer\n');
    const merged = join(tmp, 'merged');
    await mkdir(merged);
    const fuse = join(tmp, 'mnt', 'full');
    const mount = await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${fuse}:${lower}`, merged]);
    expect(mount.code, mount.stderr).toBe(0);
    try {
      const top = await run('ls', ['-A', merged]);
      expect(top.stdout.split('\n')).not.toContain('removed-file');
      expect((await run('ls', ['-A', join(merged, 'opaque')])).stdout.trim().split('\n')).toEqual(['kept']);
      expect((await run('ls', ['-A', join(merged, 'etc')])).stdout.trim().split('\n')).toContain('base-only');
      expect((await run('ls', ['-A', join(merged, 'etc')])).stdout.trim().split('\n')).toContain('hostname');
      const sum = await run('sha256sum', [join(merged, 'data', 'big.bin')]);
      expect(`sha256:${sum.stdout.split(' ')[0]}`).toBe(full.entries.find((e) => e.name === 'data/big.bin')!.sha256);
      expect((await run('stat', ['-c', '%A', join(merged, 'bin', 'tool')])).stdout.trim()).toBe('-rwsr-xr-x');
    } finally {
      await run('umount', [merged]);
    }
  }, 60_000);

  it('refuses a blob that is not eStargz with code NOT_ESTARGZ and leaves nothing mounted', async () => {
    const mnt = await newMountpoint('ordinary');
    await expect(client.mount({ mountpoint: mnt, reference: reference('test/ordinary'), digest: blobs.notEstargz })).rejects.toMatchObject({
      code: 'NOT_ESTARGZ',
    });
    expect(await mountsUnder(mnt)).toEqual([]);
  });

  it('refuses a layer whose TOC does not match the expected TOC digest (UNAVAILABLE: bad data, nothing mounted)', async () => {
    const mnt = await newMountpoint('wrong-toc');
    await expect(
      client.mount({ mountpoint: mnt, reference: reference('test/full'), digest: blobs.full, tocDigest: plain.tocDigest }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/TOC failed verification/) });
    expect(await mountsUnder(mnt)).toEqual([]);
  });

  it('answers UNAVAILABLE when the registry cannot be reached', async () => {
    const mnt = await newMountpoint('unreachable');
    const host = `127.0.0.1:${await closedPort()}`;
    await expect(client.mount({ mountpoint: mnt, reference: `${host}/test/full:latest`, digest: blobs.full })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(await mountsUnder(mnt)).toEqual([]);
  }, 30_000);

  it('refuses bad mountpoints with the right error', async () => {
    const r = { reference: reference('test/full'), digest: blobs.full };
    await expect(client.mount({ ...r, mountpoint: join(tmp, 'no-such-dir') })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(client.mount({ ...r, mountpoint: 'relative/dir' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const busy = await newMountpoint('busy');
    await writeFile(join(busy, 'file'), 'x');
    await expect(client.mount({ ...r, mountpoint: busy })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(client.mount({ ...r, mountpoint: join(tmp, 'mnt', 'plain-x'), digest: 'sha256:nothex' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('a second connect finds the running process instead of starting another', async () => {
    const again = await FusedClient.connect(root, { log: quietLog, config, command: fusedCommand, spawn: false });
    expect(again.status.pid).toBe(client.status.pid);
    expect((await again.list()).map((m) => m.digest).sort()).toEqual([blobs.full, blobs.plain].sort());
    await again.close();
    await expect(again.list()).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('unmount leaves no mount behind; unmounting again is fine', async () => {
    const mnt = join(tmp, 'mnt', 'plain');
    await client.unmount(mnt);
    expect(await mountsUnder(mnt)).toEqual([]);
    await client.unmount(mnt);
    expect((await client.list()).map((m) => m.mountpoint)).toEqual([join(tmp, 'mnt', 'full')]);
  });

  it('SIGTERM unmounts every layer and ends the process', async () => {
    const pid = client.status.pid;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await stopProcess(pid, 0);
    expect(await mountsUnder(join(tmp, 'mnt'))).toEqual([]);
    expect(await readFile(join(root, 'fused.log'), 'utf8')).toMatch(/"msg":"stopped"/);
    await expect(client.list()).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'FUSED_UNREACHABLE' });
  }, 30_000);

  it('reports a process that cannot start with the tail of its log', async () => {
    const dir = join(tmp, 'broken-root');
    const failing = [process.execPath, '-e', 'console.error("boom: cannot start"); process.exit(1)', '--'];
    await expect(FusedClient.connect(dir, { log: quietLog, config, command: failing })).rejects.toThrow(/exited with status 1[\s\S]*boom: cannot start/);
  });

  it('refuses an invalid configuration before starting anything', async () => {
    const bad = { fs: { readTimeoutMs: -1 } } as unknown as typeof config;
    await expect(FusedClient.connect(join(tmp, 'bad-config'), { log: quietLog, config: bad, command: fusedCommand })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});
