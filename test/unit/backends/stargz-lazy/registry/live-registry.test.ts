/**
 * LiveRegistry: a layer blob read through it goes to the client current at each read, so a
 * mirror changed in the hosts directory (seen by the stat poll) or a new configuration
 * (`replace`) reaches reads of an already opened layer; a client that cannot be made leaves
 * the old one serving.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveRegistry } from '../../../../../backends/stargz-lazy/registry/live-registry.js';
import { registryOptions, type RegistryOptions } from '../../../../../backends/stargz-lazy/registry/options.js';
import { parseReference } from '../../../../../backends/stargz-lazy/registry/reference.js';
import { RegistryClient } from '../../../../../backends/stargz-lazy/registry/registry-client.js';
import { serveBlob } from './servers/blob-server.js';
import { sha256 } from './servers/docker-registry.js';
import { listen, type TestServer } from './servers/listen.js';
import { testData } from './servers/test-client.js';

const data = testData(20_000, 4);
const digest = sha256(data);
const log = pino({ level: 'silent' });
let tmp: string;
const mirrors: TestServer[] = [];
const hits: string[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'live-registry-'));
  for (const name of ['first', 'second']) {
    mirrors.push(
      await listen((req, res) => {
        hits.push(name);
        serveBlob(req, res, data);
      }),
    );
  }
});
afterAll(async () => {
  await Promise.all(mirrors.map((m) => m.close()));
  await rm(tmp, { recursive: true, force: true });
});

const make = (options: RegistryOptions) => new RegistryClient(options, { log, credentials: () => undefined });
const mirrorToml = (m: TestServer) => `[host."http://${m.host}"]\n  capabilities = ["pull"]\n`;

describe('LiveRegistry', () => {
  it('moves reads of an opened blob to the mirror the hosts directory names now (stat poll)', async () => {
    const dir = join(tmp, 'poll');
    await mkdir(join(dir, 'mirror-only.invalid'), { recursive: true });
    const file = join(dir, 'mirror-only.invalid', 'hosts.toml');
    await writeFile(file, mirrorToml(mirrors[0]!));
    const live = new LiveRegistry({ options: registryOptions.parse({ hostsDirs: [dir], retry: { retries: 0 } }), make, log, pollMs: 20 });
    try {
      const blob = live.blob(parseReference('mirror-only.invalid/app:1', 't'), { digest, urls: [] });
      hits.length = 0;
      expect((await blob.readRanges([{ offset: 0, length: 10 }]))[0]!.equals(data.subarray(0, 10))).toBe(true);
      expect(hits).toEqual(['first']);
      await writeFile(file, mirrorToml(mirrors[1]!));
      const before = live.generation;
      for (let i = 0; i < 200 && live.generation === before; i++) await new Promise((r) => setTimeout(r, 10));
      expect(live.generation).toBe(before + 1);
      hits.length = 0;
      expect((await blob.readRanges([{ offset: 100, length: 10 }]))[0]!.equals(data.subarray(100, 110))).toBe(true);
      expect(hits).toEqual(['second']);
    } finally {
      await live.close();
    }
  });

  it('replace() with options that cannot make a client throws and keeps the old client', async () => {
    const live = new LiveRegistry({ options: registryOptions.parse({ hostsDirs: [] }), make, log, pollMs: 0 });
    try {
      const old = live.current;
      const bad = registryOptions.parse({ hostsDirs: [], hosts: { 'x.example': { ca: [join(tmp, 'missing.pem')] } } });
      expect(() => live.replace(bad, 'test')).toThrow(/registry\.hosts\["x\.example"\]\.ca\[0\]: cannot read/);
      expect(live.current).toBe(old);
      expect(live.generation).toBe(0);
    } finally {
      await live.close();
    }
  });
});
