/**
 * scripts/image/tar-writer.mjs: the same tree gives the same bytes whatever the readdir order,
 * timestamps, modes or umask of the build; GNU tar reads it back to the same tree, long names
 * included; what a layer cannot hold is refused by name.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entries, entryHeaders, paxRecord, tarStream } from '../../../../scripts/image/tar-writer.mjs';

const run = promisify(execFile);
const MTIME = 1_700_000_000;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-tar-writer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tarOf(root: string, mtime = MTIME): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of tarStream(await entries(root), mtime)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const LONG_DIR = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(70)}`;
const LONG_FILE = `${'n'.repeat(120)}.js`;

/** A tree with a file, an executable, a symlink, a sticky dir, a long path and a long link. */
async function makeTree(root: string, order: 'forward' | 'reverse', fileMode: number): Promise<void> {
  const files: [string, string][] = [
    ['b/x.txt', 'x'],
    ['a/run.sh', '#!/bin/sh\n'],
    [`${LONG_DIR}/${LONG_FILE}`, 'long'],
    ['é/ü.txt', 'utf8'],
  ];
  for (const [p, body] of order === 'forward' ? files : [...files].reverse()) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), body, { mode: fileMode });
  }
  await chmod(join(root, 'a/run.sh'), 0o700);
  await mkdir(join(root, 'tmp'));
  await chmod(join(root, 'tmp'), 0o1777);
  await symlink('../b/x.txt', join(root, 'a/link'));
  await symlink(`/${LONG_DIR}/${LONG_FILE}`, join(root, 'a/longlink'));
  await utimes(join(root, 'b/x.txt'), order === 'forward' ? 1 : 2, order === 'forward' ? 1 : 2);
}

describe('tar-writer', () => {
  it('is byte-identical for the same tree built in another order, with other times and modes', async () => {
    await makeTree(join(dir, 'one'), 'forward', 0o644);
    await makeTree(join(dir, 'two'), 'reverse', 0o600);
    const [one, two] = [await tarOf(join(dir, 'one')), await tarOf(join(dir, 'two'))];
    expect(one.equals(two)).toBe(true);
    expect(one.length % 512).toBe(0);
    // Another mtime: other bytes (the time is in every header).
    expect((await tarOf(join(dir, 'one'), MTIME + 1)).equals(one)).toBe(false);
  });

  it('lists entries in byte order, parents first, with normalised modes', async () => {
    await makeTree(dir, 'forward', 0o600);
    const list = (await entries(dir)) as { path: string; type: string; mode: number }[];
    const paths = list.map((e) => e.path);
    expect(paths.slice(0, 4)).toEqual(['a', 'a/link', 'a/longlink', 'a/run.sh']);
    expect(paths.indexOf('b')).toBeLessThan(paths.indexOf('b/x.txt'));
    const byPath = Object.fromEntries(list.map((e) => [e.path, e]));
    expect(byPath['a/run.sh']).toMatchObject({ type: 'file', mode: 0o755 });
    expect(byPath['b/x.txt']).toMatchObject({ type: 'file', mode: 0o644 });
    expect(byPath['tmp']).toMatchObject({ type: 'dir', mode: 0o1777 });
    expect(byPath['a/link']).toMatchObject({ type: 'symlink', mode: 0o777 });
  });

  it('GNU tar reads it back: contents, links, long names, modes, owner 0 and the one mtime', async () => {
    const src = join(dir, 'src');
    await makeTree(src, 'forward', 0o644);
    await writeFile(join(dir, 'layer.tar'), await tarOf(src));
    const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'layer.tar')], { env: { TZ: 'UTC', PATH: process.env.PATH } });
    const lines = stdout.trim().split('\n');
    expect(lines.every((l) => / 0\/0 /.test(l))).toBe(true);
    expect(lines.every((l) => l.includes('2023-11-14 22:13:20'))).toBe(true);
    expect(lines.some((l) => l.includes('PaxHeaders'))).toBe(false);
    const out = join(dir, 'out');
    await mkdir(out);
    await run('tar', ['-xf', join(dir, 'layer.tar'), '-C', out]);
    expect(await readFile(join(out, LONG_DIR, LONG_FILE), 'utf8')).toBe('long');
    expect(await readFile(join(out, 'é/ü.txt'), 'utf8')).toBe('utf8');
    expect(await readlink(join(out, 'a/link'))).toBe('../b/x.txt');
    expect(await readlink(join(out, 'a/longlink'))).toBe(`/${LONG_DIR}/${LONG_FILE}`);
    expect((await stat(join(out, 'a/run.sh'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(out, 'tmp'))).mode & 0o7777).toBe(0o1777);
  });

  it('writes a pax header only for names that do not fit ustar, and never a time record', async () => {
    const short = entryHeaders({ path: 'a/b', type: 'file', mode: 0o644, size: 0 }, MTIME) as Buffer;
    expect(short.length).toBe(512);
    const long = entryHeaders({ path: 'x'.repeat(300), type: 'file', mode: 0o644, size: 0 }, MTIME) as Buffer;
    expect(long.length).toBeGreaterThan(1024);
    expect(long.toString('latin1', 156, 157)).toBe('x');
    const records = long.toString('utf8', 512, 1024);
    expect(records).toContain(`path=${'x'.repeat(300)}`);
    expect(records).not.toMatch(/[am]?time=/);
  });

  it('pax records count their own length', () => {
    for (const v of ['a', 'x'.repeat(5), 'y'.repeat(95), 'z'.repeat(996)]) {
      const r = paxRecord('path', v) as string;
      expect(Number(r.split(' ')[0])).toBe(Buffer.byteLength(r));
    }
  });

  it('refuses what a layer cannot hold, naming it', async () => {
    await run('mkfifo', [join(dir, 'pipe')]);
    await expect(entries(dir)).rejects.toThrow(/pipe: not a regular file, directory or symbolic link/);
  });

  it('refuses a file that changed size while the layer was written', async () => {
    await writeFile(join(dir, 'f'), 'short');
    const list = await entries(dir);
    await writeFile(join(dir, 'f'), 'much longer now');
    const drain = async () => {
      for await (const _ of tarStream(list, MTIME)) void _;
    };
    await expect(drain()).rejects.toThrow(/f grew while the layer was written/);
  });

  it('refuses an mtime a tar header cannot hold', async () => {
    const drain = async (t: number) => {
      for await (const _ of tarStream([], t)) void _;
    };
    await expect(drain(-1)).rejects.toThrow(/not a valid tar time/);
    await expect(drain(1.5)).rejects.toThrow(/not a valid tar time/);
  });
});
