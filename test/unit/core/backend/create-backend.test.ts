import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackend } from '../../../../core/backend/create-backend.js';
import { loadBackend } from '../../../../core/loading/load-backend.js';
import { BackendContractError, BackendTimeoutError } from '../../../../core/contract/errors.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/backends/', import.meta.url));
const log = pino({ level: 'silent' });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-create-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function create(fixture: string, timeoutMs = 2000) {
  const { definition } = await loadBackend(`./${fixture}/index.mjs`, { baseDir: fixtures, backend: fixture });
  const root = join(dir, fixture, 'root');
  const options = definition.options.parse({});
  return { root, result: createBackend({ name: fixture, root, definition, options, log, timeoutMs }) };
}

describe('createBackend: loader fixtures', () => {
  it('create-throws -> BackendContractError naming the backend, with the cause', async () => {
    const { result } = await create('create-throws');
    const err = await result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendContractError);
    expect((err as Error).message).toBe('backend "create-throws": create() failed: cannot open /dev/fixture-missing');
    expect(((err as Error).cause as Error).message).toBe('cannot open /dev/fixture-missing');
  });

  it('create-hangs -> BackendTimeoutError within the timeout, and ctx.signal is aborted', async () => {
    const started = Date.now();
    const { root, result } = await create('create-hangs', 150);
    const err = await result.catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(err).toBeInstanceOf(BackendTimeoutError);
    expect((err as BackendTimeoutError).phase).toBe('create');
    expect((err as Error).message).toBe('backend "create-hangs": create() did not finish within 150 ms');
    expect(await readFile(join(root, 'aborted'), 'utf8')).toBe('BACKEND_TIMEOUT');
  });

  it('missing-method -> BackendContractError listing the missing methods, and the instance is closed', async () => {
    const { root, result } = await create('missing-method');
    const err = await result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendContractError);
    expect((err as Error).message).toBe(
      'backend "missing-method": create() returned an instance that is not a snapshotter: missing required method(s): commit, remove',
    );
    expect(existsSync(join(root, 'closed'))).toBe(true);
  });

  it('creates the root with mode 0700 before create runs', async () => {
    const { root, result } = await create('create-throws');
    await result.catch(() => undefined);
    expect((await stat(root)).mode & 0o777).toBe(0o700);
  });

  it('with the entry\'s index, every error names backends[i] and the instance', async () => {
    const { definition } = await loadBackend('./create-throws/index.mjs', { baseDir: fixtures, backend: 'ct' });
    const options = definition.options.parse({});
    const thrown = await createBackend({ name: 'ct', index: 2, root: join(dir, 'ct'), definition, options, log, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect((thrown as Error).message).toBe('backends[2] "ct": create() failed: cannot open /dev/fixture-missing');
    const hangs = await loadBackend('./create-hangs/index.mjs', { baseDir: fixtures, backend: 'ch' });
    const late = await createBackend({ name: 'ch', index: 0, root: join(dir, 'ch'), definition: hangs.definition, options: {}, log, timeoutMs: 100 }).catch((e: unknown) => e);
    expect((late as Error).message).toBe('backends[0] "ch": create() did not finish within 100 ms');
  });

  it('refuses a create() that returns something other than an object', async () => {
    const definition = { name: 'nul', apiVersion: 1, options: { safeParse: () => ({ success: true, data: {} }) } as never, create: () => null as never };
    const err = await createBackend({ name: 'nul', root: join(dir, 'nul'), definition, options: {}, log, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendContractError);
    expect((err as Error).message).toBe('backend "nul": create() returned null, not a snapshotter object');
  });
});
