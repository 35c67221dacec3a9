/**
 * scripts/image/oci-layout.mjs: two layouts written from equal trees have the same manifest
 * digest; the blobs are what their descriptors say (digest, size, diff_id of the gunzipped
 * tar); the config carries one time everywhere; a layer with another entry time changes only
 * that layer.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeLayout } from '../../../../scripts/image/oci-layout.mjs';

const CREATED = '2026-01-02T03:04:05Z';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-oci-layout-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, name);
  for (const [p, body] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), body);
  }
  return root;
}

function spec(base: string, app: string, appTime = 1_700_000_000) {
  return {
    tag: 't1',
    created: CREATED,
    architecture: 'amd64',
    entrypoint: ['/usr/local/bin/snaphost'],
    cmd: ['serve'],
    env: ['PATH=/bin'],
    workingDir: '/',
    labels: { 'org.opencontainers.image.revision': 'abc', 'org.opencontainers.image.created': CREATED },
    layers: [
      { dir: base, createdBy: 'base', mtime: 1_600_000_000 },
      { dir: app, createdBy: 'app', mtime: appTime },
    ],
  };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('writeLayout', () => {
  it('is reproducible and self-consistent', async () => {
    const base = await tree('base', { 'etc/os-release': 'debian', 'usr/bin/x': 'x' });
    const app = await tree('app', { 'opt/app/index.js': 'console.log(1)' });
    const a = await writeLayout(join(dir, 'a'), spec(base, app));
    const b = await writeLayout(join(dir, 'b'), spec(base, app));
    expect(a.manifest.digest).toBe(b.manifest.digest);

    const L = join(dir, 'a');
    const blob = (d: string) => readFile(join(L, 'blobs', 'sha256', d.slice(7)));
    const index = JSON.parse(await readFile(join(L, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(a.manifest.digest);
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('t1');
    expect(JSON.parse(await readFile(join(L, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const manifestBytes = await blob(a.manifest.digest);
    expect(sha(manifestBytes)).toBe(a.manifest.digest);
    const manifest = JSON.parse(manifestBytes.toString());
    const config = JSON.parse((await blob(manifest.config.digest)).toString());
    expect(config.created).toBe(CREATED);
    expect(config.history.map((h: { created: string }) => h.created)).toEqual([CREATED, CREATED]);
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/snaphost']);
    for (const [i, l] of manifest.layers.entries()) {
      const gz = await blob(l.digest);
      expect(sha(gz)).toBe(l.digest);
      expect(gz.length).toBe(l.size);
      expect(sha(gunzipSync(gz))).toBe(config.rootfs.diff_ids[i]);
      // gzip header: no modification time, no file name.
      expect(gz.readUInt32LE(4)).toBe(0);
      expect(gz[3]! & 0x08).toBe(0);
    }
  });

  it('another entry time for the app layer changes that layer only', async () => {
    const base = await tree('base', { 'etc/os-release': 'debian' });
    const app = await tree('app', { 'opt/app/index.js': '1' });
    const a = await writeLayout(join(dir, 'a'), spec(base, app, 1_700_000_000));
    const b = await writeLayout(join(dir, 'b'), spec(base, app, 1_700_000_001));
    expect(a.layers[0]!.digest).toBe(b.layers[0]!.digest);
    expect(a.layers[1]!.digest).not.toBe(b.layers[1]!.digest);
    expect(a.manifest.digest).not.toBe(b.manifest.digest);
  });
});
