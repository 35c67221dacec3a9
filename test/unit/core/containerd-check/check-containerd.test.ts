import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkContainerd } from '../../../../core/containerd-check/check-containerd.js';
import { serveFakeContainerd } from '../grpc/fake-containerd.js';

let dir: string;
let server: grpc.Server | undefined;
let listener: Server | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-check-containerd-'));
});
afterEach(async () => {
  server?.forceShutdown();
  server = undefined;
  await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
  listener = undefined;
  await rm(dir, { recursive: true, force: true });
});

const backend = (name: string, remoteSnapshots = false) => ({ name, socket: join(dir, `${name}.sock`), root: join(dir, name), remoteSnapshots });

describe('checkContainerd', () => {
  it('no containerd: one error, containerd-unreachable, saying the socket does not exist', async () => {
    const f = await checkContainerd({ address: join(dir, 'none.sock'), backends: [backend('memory')], signal: AbortSignal.timeout(10_000), callTimeoutMs: 2000 });
    expect(f).toEqual([{ severity: 'error', code: 'containerd-unreachable', message: expect.stringContaining('the socket does not exist') }]);
  });

  it('a containerd version it does not know: containerd-version-unsupported', async () => {
    const address = join(dir, 'containerd.sock');
    server = await serveFakeContainerd(address, { version: 'v3.0.0' });
    const f = await checkContainerd({ address, backends: [], signal: AbortSignal.timeout(10_000), callTimeoutMs: 2000 });
    expect(f.map((x) => x.code)).toEqual(['containerd-version-unsupported']);
  });

  it('containerd 1.x: version, plugin, socket and CRI findings per backend (no config dump without --containerd-config)', async () => {
    const address = join(dir, 'containerd.sock');
    server = await serveFakeContainerd(address, {
      version: '1.6.20~ds1',
      plugins: (_call, cb) => cb(null, { plugins: [{ type: 'io.containerd.snapshotter.v1', id: 'served' }, { type: 'io.containerd.snapshotter.v1', id: 'unserved' }] }),
    });
    listener = createServer();
    await new Promise<void>((resolve) => listener!.listen(join(dir, 'served.sock'), resolve));
    const f = await checkContainerd({ address, backends: [backend('served'), backend('unserved'), backend('absent')], signal: AbortSignal.timeout(10_000), callTimeoutMs: 2000 });
    expect(f.map((x) => [x.backend ?? '-', x.severity, x.code])).toEqual([
      ['-', 'ok', 'containerd-version'],
      ['served', 'ok', 'proxy-plugin-ok'],
      ['unserved', 'ok', 'proxy-plugin-ok'],
      ['absent', 'error', 'proxy-plugin-missing'],
      ['served', 'ok', 'backend-serving'],
      ['unserved', 'error', 'backend-not-serving'],
      ['absent', 'error', 'backend-not-serving'],
      ['-', 'warning', 'cri-disabled'],
    ]);
    expect(f.find((x) => x.backend === 'unserved' && x.code === 'backend-not-serving')!.message).toContain('ENOENT');
  });

  it('containerd 2.x whose config cannot be dumped: a warning says so and how to name the file', async () => {
    const address = join(dir, 'containerd.sock');
    // A PID in another PID namespace: the dump falls back to `containerd` on PATH and a file that does not exist.
    server = await serveFakeContainerd(address, { version: 'v2.1.9', server: { uuid: 'u', pid: '1', pidns: '1' } });
    const f = await checkContainerd({ address, backends: [], signal: AbortSignal.timeout(10_000), callTimeoutMs: 5000, containerdConfig: join(dir, 'no-such-config.toml') });
    const dump = f.find((x) => x.code === 'config-dump-failed');
    expect(dump?.severity).toBe('warning');
    expect(dump?.message).toContain('config dump` failed');
  });

  it('refuses a relative address', async () => {
    await expect(checkContainerd({ address: 'containerd.sock', backends: [], signal: AbortSignal.timeout(1000), callTimeoutMs: 1000 })).rejects.toThrow(/absolute socket path/);
  });
});
