import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { criFindings } from '../../../../core/containerd-check/cri-findings.js';

const backends = [{ name: 'stargz-lazy', remoteSnapshots: true }];
let dir: string;
let server: grpc.Server | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-cri-findings-'));
});
afterEach(async () => {
  server?.forceShutdown();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('criFindings', () => {
  it('a socket nobody serves: one error finding, cri-unreachable, naming the address', async () => {
    const address = join(dir, 'missing.sock');
    const f = await criFindings({ address, backends, major: 1, signal: AbortSignal.timeout(10_000), callTimeoutMs: 2000 });
    expect(f).toEqual([{ severity: 'error', code: 'cri-unreachable', message: expect.stringContaining(address) }]);
  });

  it('a gRPC server without the CRI services (CRI disabled): cri-disabled', async () => {
    const address = join(dir, 'containerd.sock');
    server = new grpc.Server();
    await new Promise<void>((resolve, reject) => server!.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    const f = await criFindings({ address, backends, major: 2, signal: AbortSignal.timeout(10_000), callTimeoutMs: 2000 });
    expect(f).toEqual([{ severity: 'warning', code: 'cri-disabled', message: expect.stringMatching(/serves no CRI/) }]);
  });

  it('an aborted signal ends the check at once', async () => {
    const f = await criFindings({ address: join(dir, 'x.sock'), backends, major: 1, signal: AbortSignal.abort(new Error('stop')), callTimeoutMs: 2000 });
    expect(f.map((x) => x.code)).toEqual(['cri-unreachable']);
  });

  it('refuses a relative address, a bad major and a bad deadline', async () => {
    const signal = AbortSignal.timeout(1000);
    await expect(criFindings({ address: 'run/containerd.sock', backends, major: 1, signal })).rejects.toThrow(/absolute socket path/);
    await expect(criFindings({ address: '/x.sock', backends, major: 3 as 1, signal })).rejects.toThrow(/major must be 1 or 2/);
    await expect(criFindings({ address: '/x.sock', backends, major: 1, signal, callTimeoutMs: 0 })).rejects.toThrow(/callTimeoutMs/);
  });
});
