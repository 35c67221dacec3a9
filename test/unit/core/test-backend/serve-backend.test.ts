/**
 * `snaphost/testing`'s serveBackend: a backend served in-process through the real adapter on
 * a unix socket, its options validated as the host validates them, the client connected.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import memory from '../../../../backends/memory/index.js';
import { ConfigError, FailedPreconditionError, NotFoundError } from '../../../../core/contract/errors.js';
import { defineBackend, z, type Snapshotter } from '../../../../core/sdk.js';
import { connectSnapshots, serveBackend } from '../../../../core/sdk-testing.js';

/** A backend of the kind the guide shows: memory with an option-validated limit and a refusal rule. */
const limited = defineBackend({
  name: 'limited',
  apiVersion: 1,
  options: z.object({ maxSnapshots: z.number().int().positive() }).strict(),
  async create({ maxSnapshots }, ctx) {
    const inner = (await memory.create({ size: '64m' }, ctx)) as Snapshotter;
    let count = 0;
    return {
      ...inner,
      stat: inner.stat.bind(inner),
      update: inner.update.bind(inner),
      usage: inner.usage.bind(inner),
      mounts: inner.mounts.bind(inner),
      view: inner.view.bind(inner),
      commit: inner.commit.bind(inner),
      list: inner.list.bind(inner),
      close: inner.close?.bind(inner),
      async prepare(key, parent, labels, call) {
        if (count >= maxSnapshots) throw new FailedPreconditionError(`limit of ${maxSnapshots} snapshots reached`);
        count++;
        return inner.prepare(key, parent, labels, call);
      },
      async remove(key, call) {
        await inner.remove(key, call);
        count--;
      },
    };
  },
});

describe('serveBackend', () => {
  it('serves a definition through real gRPC: its own rules reach the client as SDK errors', async () => {
    const served = await serveBackend(limited, { maxSnapshots: 1 });
    try {
      expect(served.name).toBe('limited');
      const { client } = served;
      const mounts = await client.prepare('a', '');
      expect(mounts[0]!.type).toBe('bind');
      await expect(client.prepare('b', '')).rejects.toThrow(new FailedPreconditionError('limit of 1 snapshots reached'));
      await client.commit('layer-a', 'a', { x: '1' });
      expect(await client.stat('layer-a')).toMatchObject({ name: 'layer-a', kind: 'committed', labels: { x: '1' } });
      await expect(client.stat('a')).rejects.toBeInstanceOf(NotFoundError);
      expect((await Array.fromAsync(client.list())).map((i) => i.name)).toEqual(['layer-a']);
      // Another client of the same socket sees the same backend.
      const other = connectSnapshots(served.socket);
      expect((await other.stat('layer-a')).name).toBe('layer-a');
      other.close();
    } finally {
      await served.close();
    }
    expect(existsSync(served.socket)).toBe(false);
    expect(existsSync(served.root)).toBe(false);
    await served.close(); // a second close is harmless
  }, 60_000);

  it('validates the options with the backend schema as the host does', async () => {
    const err = await serveBackend(limited, { maxSnapshots: 0, typo: true }).catch((e: unknown) => e as ConfigError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['backends[0].options.maxSnapshots']));
    expect(err.message).toContain('typo');
  });

  it('serves a built-in or a module by name or path; a given root is kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'snaphost-serve-backend-test-'));
    try {
      const served = await serveBackend('memory', { size: '64m' }, { root: join(dir, 'root') });
      expect(served.root).toBe(join(dir, 'root'));
      await served.client.prepare('k', '');
      expect(await served.client.usage('k')).toEqual({ size: expect.any(Number) as number, inodes: expect.any(Number) as number });
      await served.close();
      expect(existsSync(join(dir, 'root'))).toBe(true);
      const byPath = await serveBackend(join(import.meta.dirname, 'fixtures', 'loose-options.ts'), {});
      expect(byPath.name).toBe('loose-options');
      await byPath.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a module that does not load is the host load error', async () => {
    await expect(serveBackend('snaphost-no-such-backend', {})).rejects.toThrow('backend "snaphost-no-such-backend": cannot load package');
  });
});
