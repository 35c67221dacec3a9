/**
 * `POST /v1/config` end to end over a real unix socket: the control server routes it to the
 * process's applyConfig, and pushConfig (the snapshotter's side) returns the digest the process
 * runs with: the new one when applied, the old one when refused (a fixed field) or when the
 * process is too old to know the request; a bad body is INVALID_ARGUMENT.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FailedPreconditionError, InvalidArgumentError } from '../../../../../core/sdk.js';
import { serveControl, type ControlServer, type ControlServerOptions } from '../../../../../backends/stargz-lazy/fused/control-server.js';
import { controlRequest } from '../../../../../backends/stargz-lazy/fused-client/control-request.js';
import { pushConfig } from '../../../../../backends/stargz-lazy/fused-client/push-config.js';
import { configDigestOf, fusedConfigSchema, type FusedConfig } from '../../../../../backends/stargz-lazy/protocol/fused-config.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'push-config-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const running = fusedConfigSchema.parse({ registry: { hostsDirs: [] } });
const wanted = fusedConfigSchema.parse({ registry: { hostsDirs: ['/srv/certs.d'] }, cache: { memoryBytes: 1024 } });

async function server(name: string, applyConfig?: ControlServerOptions['applyConfig']): Promise<{ socket: string; srv: ControlServer }> {
  const socket = join(dir, `${name}.sock`);
  const srv = await serveControl({
    socket,
    mounts: {} as ControlServerOptions['mounts'],
    status: () => ({ pid: 1, startedAt: '', configDigest: configDigestOf(running), mounts: 0 }),
    log,
    ...(applyConfig ? { applyConfig } : {}),
  });
  return { socket, srv };
}

describe('POST /v1/config', () => {
  it('applies the configuration and answers the new digest', async () => {
    const got: FusedConfig[] = [];
    const { socket, srv } = await server('ok', (c) => {
      got.push(c);
      return { configDigest: configDigestOf(c), applied: ['cache', 'registry'] };
    });
    try {
      const digest = await pushConfig(socket, { pid: 1, configDigest: configDigestOf(running) }, wanted, log);
      expect(digest).toBe(configDigestOf(wanted));
      expect(got).toEqual([wanted]);
      // Same digest: nothing is sent.
      expect(await pushConfig(socket, { pid: 1, configDigest: configDigestOf(wanted) }, wanted, log)).toBe(configDigestOf(wanted));
      expect(got).toHaveLength(1);
      await expect(controlRequest(socket, 'POST', '/v1/config', { config: { cache: { memoryBytes: -1 } } }, { timeoutMs: 5_000 })).rejects.toThrow(InvalidArgumentError);
      await expect(controlRequest(socket, 'POST', '/v1/config', { config: {}, extra: 1 }, { timeoutMs: 5_000 })).rejects.toThrow(InvalidArgumentError);
    } finally {
      await srv.close();
    }
  });

  it('keeps the old digest when the process refuses or does not know the request', async () => {
    const refusing = await server('refusing', () => {
      throw new FailedPreconditionError('cannot change estargz in a running FUSE-serving process');
    });
    const old = await server('old');
    try {
      expect(await pushConfig(refusing.socket, { pid: 1, configDigest: configDigestOf(running) }, wanted, log)).toBe(configDigestOf(running));
      expect(await pushConfig(old.socket, { pid: 1, configDigest: configDigestOf(running) }, wanted, log)).toBe(configDigestOf(running));
    } finally {
      await refusing.srv.close();
      await old.srv.close();
    }
  });
});
