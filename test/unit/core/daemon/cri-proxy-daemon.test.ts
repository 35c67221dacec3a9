/**
 * The daemon with `criProxy`: the proxy serves before the backends, every backend (also one a
 * reload starts) gets its credential store as `ctx.registryCredentials`, `criProxyReport` counts
 * repositories and nothing else, and stop removes the proxy's socket.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { defineBackend } from '../../../../core/contract/define-backend.js';
import type { RegistryCredentialSource } from '../../../../core/contract/registry-credentials.js';
import { resolveConfig } from '../../../../core/config/resolve-config.js';
import { startDaemon, type Daemon } from '../../../../core/daemon.js';
import { pullRequest, rawCall, startStub, type CriStub } from '../cri-proxy/cri-stub.js';

const log = pino({ level: 'silent' });
let dir: string;
let stub: CriStub;
let daemon: Daemon | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-daemon-cri-'));
  stub = await startStub(dir);
});
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await stub.close();
  await rm(dir, { recursive: true, force: true });
});

const seen: RegistryCredentialSource[] = [];
const recorder = defineBackend({
  name: 'recorder',
  apiVersion: 1,
  options: z.object({}).strict(),
  create(_o, ctx) {
    seen.push(ctx.registryCredentials);
    const none = () => Promise.reject(new Error('not used'));
    return { stat: none, update: none, usage: none, mounts: none, prepare: none, view: none, commit: none, remove: none, list: none } as never;
  },
});

it('hands the proxy credentials to every backend and reports only a count', async () => {
  const listen = join(dir, 'cri.sock');
  const cfg = await resolveConfig(
    { socketDir: join(dir, 'run'), rootDir: join(dir, 'lib'), criProxy: { listen, upstream: stub.socket }, backends: [{ use: recorder, name: 'r1' }, { use: recorder, name: 'r2' }] },
    { baseDir: dir },
  );
  seen.length = 0;
  daemon = await startDaemon(cfg, { log });
  expect(seen).toHaveLength(2);
  expect(seen[0]).toBe(seen[1]);
  await rawCall(listen, 'PullImage', pullRequest('127.0.0.1:5000/p/app:v1', { username: 'u', password: 'very-secret' }));
  expect(seen[0]!.current()).toMatchObject([{ host: '127.0.0.1:5000', repository: 'p/app' }]);
  const report = daemon.criProxyReport();
  expect(report).toEqual({ listen, upstream: stub.socket, repositoriesWithCredentials: 1 });
  expect(JSON.stringify(report)).not.toContain('very-secret');
  await daemon.stop();
  daemon = undefined;
  expect(existsSync(listen)).toBe(false);
});
