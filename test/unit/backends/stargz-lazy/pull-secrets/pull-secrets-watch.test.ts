/** Pull secrets read from files and secret-volume directories, and read again when Kubernetes swaps `..data`. */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PullSecretsWatch } from '../../../../../backends/stargz-lazy/pull-secrets/pull-secrets-watch.js';
import { readPullSecrets, scanPullSecrets, MAX_FILES_PER_DIR } from '../../../../../backends/stargz-lazy/pull-secrets/read-pull-secrets.js';

const SECRET = 's3cr3t-in-volume';
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pull-secrets-'));
  dirs.push(d);
  return d;
}

const config = (host: string, password: string) => JSON.stringify({ auths: { [host]: { auth: Buffer.from(`u:${password}`).toString('base64') } } });

/** A secret volume as kubelet writes it: `..<ts>/` with the data, `..data` -> it, `.dockerconfigjson` -> `..data/.dockerconfigjson`. */
async function secretVolume(dir: string, text: string, generation: number): Promise<void> {
  const ts = join(dir, `..2026_12_05_${generation}`);
  await mkdir(ts);
  await writeFile(join(ts, '.dockerconfigjson'), text);
  await symlink(`..2026_12_05_${generation}`, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  await symlink('..data/.dockerconfigjson', join(dir, '.dockerconfigjson')).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

function capture() {
  const lines: string[] = [];
  return { log: pino({ level: 'trace' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) })), lines };
}

describe('reading pull secrets', () => {
  it('reads files and directories in order; the first naming a host wins; broken ones are named and skipped', async () => {
    const d = await tmp();
    await writeFile(join(d, 'one.json'), config('a.example', 'first'));
    const vol = join(d, 'vol');
    await mkdir(vol);
    await secretVolume(vol, config('a.example', 'second'), 1);
    await writeFile(join(vol, 'broken'), `{"auths": ${SECRET}`);
    await writeFile(join(vol, 'more'), config('b.example', 'third'));
    const r = await readPullSecrets(await scanPullSecrets([join(d, 'one.json'), vol, join(d, 'missing')]));
    expect(r.entries).toEqual([
      { host: 'a.example', auth: { kind: 'password', username: 'u', password: 'first' } },
      { host: 'b.example', auth: { kind: 'password', username: 'u', password: 'third' } },
    ]);
    expect(r.files.map((f) => f.file)).toEqual([join(d, 'one.json'), join(vol, '.dockerconfigjson'), join(vol, 'more')]);
    expect(r.problems).toEqual([`pull secret ${join(d, 'missing')}: does not exist`, `pull secret ${join(vol, 'broken')} is not JSON`]);
    expect(r.problems.join('')).not.toContain(SECRET);
  });

  it('reads at most its bound of files from one directory', async () => {
    const d = await tmp();
    for (let i = 0; i < MAX_FILES_PER_DIR + 3; i++) await writeFile(join(d, `f${String(i).padStart(3, '0')}`), config(`h${i}.example`, 'p'));
    const r = await readPullSecrets(await scanPullSecrets([d]));
    expect(r.files).toHaveLength(MAX_FILES_PER_DIR);
    expect(r.problems[0]).toMatch(/more than 64 files/);
  });

  it('bounds the whole: at most 512 registries in all, a file over 256 KiB or a huge directory refused, by name', async () => {
    const d = await tmp();
    const many = (from: number) => JSON.stringify({ auths: Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`h${from + i}.example`, { auth: Buffer.from('u:p').toString('base64') }])) });
    for (let f = 0; f < 5; f++) await writeFile(join(d, `s${f}`), many(f * 128));
    await writeFile(join(d, 'z-big'), `{"auths": {}, "pad": "${'x'.repeat(300 * 1024)}"}`);
    const huge = join(await tmp(), 'huge');
    await mkdir(huge);
    for (let i = 0; i < 1030; i++) await writeFile(join(huge, `n${i}`), '');
    const r = await readPullSecrets(await scanPullSecrets([d, huge]));
    expect(r.entries).toHaveLength(512);
    expect(r.problems).toEqual([
      `pull secret directory ${huge}: more than 1024 entries: not a secret volume`,
      `pull secret ${join(d, 's4')}: more than 512 registries or ${1024 * 1024 - 4096} bytes in all pull secrets; the rest are left out`,
      `pull secret ${join(d, 'z-big')}: larger than ${256 * 1024} bytes`,
    ]);
  });

  it('polls on its own', async () => {
    const d = await tmp();
    await secretVolume(d, config('r.example', 'one'), 1);
    const watch = await PullSecretsWatch.open([d], pino({ level: 'silent' }), 20);
    let changes = 0;
    watch.subscribe(() => changes++);
    await secretVolume(d, config('r.example', 'two'), 2);
    for (let i = 0; i < 100 && changes === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(changes).toBe(1);
    watch.close();
  });

  it('follows a secret volume update (the ..data swap), and never logs a secret', async () => {
    const d = await tmp();
    await secretVolume(d, config('r.example', SECRET), 1);
    const { log, lines } = capture();
    const watch = await PullSecretsWatch.open([d], log, 0);
    expect(watch.entries()).toEqual([{ host: 'r.example', auth: { kind: 'password', username: 'u', password: SECRET } }]);
    let changes = 0;
    watch.subscribe(() => changes++);
    await watch.poll();
    expect(changes).toBe(0); // nothing changed: not even read again
    await secretVolume(d, config('r.example', `${SECRET}-rotated`), 2);
    await watch.poll();
    expect(changes).toBe(1);
    expect(watch.entries()![0]!.auth).toEqual({ kind: 'password', username: 'u', password: `${SECRET}-rotated` });
    await secretVolume(d, `{"auths": ${SECRET}`, 3);
    await watch.poll();
    expect(changes).toBe(2);
    expect(watch.entries()).toEqual([]);
    expect(watch.problems).toEqual([`pull secret ${join(d, '.dockerconfigjson')} is not JSON`]);
    expect(lines.filter((l) => l.includes('"level":50') && l.includes('.dockerconfigjson is not JSON'))).toHaveLength(1);
    expect(lines.join('')).not.toContain(SECRET);
    watch.close();
  });
});
