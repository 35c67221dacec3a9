import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containerdPlugins, containerdServer, containerdVersion } from '../../../../core/grpc/containerd-introspection.js';
import { GrpcCallError } from '../../../../core/grpc/unary-call.js';
import { serveFakeContainerd as serve } from './fake-containerd.js';

let dir: string;
let server: grpc.Server | undefined;
const opts = () => ({ signal: AbortSignal.timeout(10_000), timeoutMs: 2000 });
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-introspection-'));
});
afterEach(async () => {
  server?.forceShutdown();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('containerd introspection client', () => {
  it('Version, Plugins (filters sent, init error and exports read) and Server (PID as a number)', async () => {
    const address = join(dir, 'containerd.sock');
    let sent: string[] = [];
    server = await serve(address, {
      plugins: (call, cb) => {
        sent = call.request.filters;
        cb(null, {
          plugins: [
            { type: 'io.containerd.snapshotter.v1', id: 'memory', exports: { root: '/var/lib/snaphost/memory' }, capabilities: [] },
            { type: 'io.containerd.snapshotter.v1', id: 'broken', initErr: { code: 2, message: 'boom' } },
          ],
        });
      },
      server: { uuid: 'u1', pid: '4242', pidns: '4026531836' },
    });
    expect(await containerdVersion(address, opts())).toEqual({ version: 'v2.1.9', revision: 'abc' });
    expect(await containerdPlugins(address, ['type==io.containerd.snapshotter.v1'], opts())).toEqual([
      { type: 'io.containerd.snapshotter.v1', id: 'memory', exports: { root: '/var/lib/snaphost/memory' }, capabilities: [] },
      { type: 'io.containerd.snapshotter.v1', id: 'broken', exports: {}, capabilities: [], initError: { code: 2, message: 'boom' } },
    ]);
    expect(sent).toEqual(['type==io.containerd.snapshotter.v1']);
    expect(await containerdServer(address, opts())).toEqual({ uuid: 'u1', pid: 4242, pidns: 4026531836 });
  });

  it('a containerd 1.x Server answer (uuid only): no PID', async () => {
    const address = join(dir, 'containerd.sock');
    server = await serve(address, { server: { uuid: 'u1' } });
    expect(await containerdServer(address, opts())).toEqual({ uuid: 'u1' });
  });

  it('a socket nobody serves: GrpcCallError UNAVAILABLE within the deadline', async () => {
    const started = Date.now();
    const err = await containerdVersion(join(dir, 'missing.sock'), opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpcCallError);
    expect((err as GrpcCallError).status).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an aborted signal: CANCELLED, no call made', async () => {
    const err = await containerdPlugins(join(dir, 'x.sock'), [], { signal: AbortSignal.abort(new Error('stop')), timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((err as GrpcCallError).status).toBe('CANCELLED');
  });
});
