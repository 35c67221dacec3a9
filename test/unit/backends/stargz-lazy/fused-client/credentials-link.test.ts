/**
 * Registry credentials reach a real FUSE-serving process (run from source) through the link:
 * told on connect, told again when a new process replaced a dead one (it keeps them in memory
 * only), and kept by a process that outlived its daemon (a new daemon that knows fewer adds to
 * them). Neither log has a secret.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegistryCredentialSource, RepositoryCredentials } from '../../../../../core/contract/registry-credentials.js';
import { CredentialsFeed } from '../../../../../backends/stargz-lazy/fused-client/credentials-feed.js';
import { FusedClientLink } from '../../../../../backends/stargz-lazy/fused-client/fused-client-link.js';
import type { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { fusedConfigSchema } from '../../../../../backends/stargz-lazy/protocol/fused-config.js';
import { fusedCommand, stopProcess, unmountAllUnder } from '../fused/fused-env.js';

const SECRET = 'link-secret-9f8e7d';
let tmp: string;
const started = new Set<number>();
const lines: string[] = [];
const log = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-credentials-'));
});

afterAll(async () => {
  for (const pid of started) await stopProcess(pid);
  if (tmp) {
    await unmountAllUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  }
}, 30_000);

const creds = (repository: string): RepositoryCredentials => ({ host: 'r.example', repository, auth: { kind: 'password', username: 'u', password: SECRET }, updatedAt: 0 });
const fixed = (list: RepositoryCredentials[]): RegistryCredentialSource => ({ current: () => list, subscribe: () => () => undefined });

function linkWith(root: string, source: RegistryCredentialSource): FusedClientLink {
  const feed = new CredentialsFeed({ source, log });
  return new FusedClientLink(root, fusedConfigSchema.parse({ logLevel: 'debug' }), log, 30_000, fusedCommand, feed);
}

async function connected(link: FusedClientLink): Promise<FusedClient> {
  const client = (await link.get(AbortSignal.timeout(30_000))) as FusedClient;
  started.add(client.status.pid);
  return client;
}

describe('credentials through the link to a real FUSE process', () => {
  it('are given on connect, given again to a new process, and kept across a daemon restart', async () => {
    const root = join(tmp, 'root');
    await mkdir(root, { mode: 0o700 });
    const link = linkWith(root, fixed([creds('a'), creds('b')]));
    const first = await connected(link);
    expect((await first.credentials({})).repositories).toBe(2);

    // The process dies (memory only): once the snapshotter drops the client whose calls failed, the
    // next use starts a new process and tells it everything again.
    await stopProcess(first.status.pid);
    link.reset(first); // what the snapshotter does when a call through it failed (fused-layers.ts)
    const second = await connected(link);
    expect(second.status.pid).not.toBe(first.status.pid);
    expect((await second.credentials({})).repositories).toBe(2);

    // The daemon restarts knowing only `c`: the process that outlived it keeps a and b.
    await link.close();
    const again = linkWith(root, fixed([creds('c')]));
    const same = await connected(again);
    expect(same.status.pid).toBe(second.status.pid);
    expect((await same.credentials({})).repositories).toBe(3);

    // Hostile requests are refused whole, naming what is wrong and never a value.
    const many = Array.from({ length: 513 }, (_, i) => ({ host: 'r.example', repository: `x${i}`, auth: { kind: 'password' as const, username: 'u', password: SECRET } }));
    await expect(same.credentials({ set: many })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const huge = Array.from({ length: 100 }, (_, i) => ({ host: `h${i}.example`, auth: { kind: 'registryToken' as const, registryToken: `${SECRET}${'x'.repeat(16_000)}` } }));
    await expect(same.credentials({ replace: { source: 'pull-secrets', entries: huge } })).rejects.toThrow(/larger than 1048576 bytes/);
    const bad = { set: [{ host: 'r.example', repository: 'y', auth: { kind: 'password' as const, username: 'u', password: `${SECRET}\n` } }] };
    const refused = await same.credentials(bad).then(() => undefined, (err: Error) => err);
    expect(refused?.message).toMatch(/must not contain control characters/);
    expect(refused?.message).not.toContain(SECRET);
    expect((await same.credentials({})).repositories).toBe(3);
    await again.close();

    const fusedLog = await readFile(join(root, 'fused.log'), 'utf8');
    expect(fusedLog).toContain('registry credentials received from snaphost');
    expect(fusedLog).not.toContain(SECRET);
    expect(lines.join('')).not.toContain(SECRET);
  }, 90_000);
});
