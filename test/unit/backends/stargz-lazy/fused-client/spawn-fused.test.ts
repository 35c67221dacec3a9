/**
 * The FUSE process's environment: the V8 flags of its memory budget join snaphost's own
 * NODE_OPTIONS (after them: later flags win), glibc gets one malloc arena unless snaphost's
 * environment says otherwise, and nothing but node flags goes into NODE_OPTIONS.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nodeOptionsWith, spawnFused } from '../../../../../backends/stargz-lazy/fused-client/spawn-fused.js';

const dirs: string[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('nodeOptionsWith', () => {
  it('appends the flags to what is there, and is empty when both are', () => {
    expect(nodeOptionsWith('--enable-source-maps', ['--max-old-space-size=104'])).toBe('--enable-source-maps --max-old-space-size=104');
    expect(nodeOptionsWith(undefined, ['--max-old-space-size=104', '--max-semi-space-size=2'])).toBe('--max-old-space-size=104 --max-semi-space-size=2');
    expect(nodeOptionsWith('  ', [])).toBe('');
  });

  it('refuses anything but a node flag', () => {
    for (const bad of ['--x=1 --require=/tmp/evil.js', '-r', '--a=$(id)', '--a b', '']) expect(() => nodeOptionsWith(undefined, [bad]), bad).toThrow(/not a node flag/);
  });
});

describe('spawnFused', () => {
  async function envOf(flags: string[]): Promise<Record<string, string>> {
    const root = await mkdtemp(path.join(tmpdir(), 'spawn-fused-'));
    dirs.push(root);
    const log = path.join(root, 'fused.log');
    const script = path.join(root, 'env.cjs');
    await writeFile(script, "console.log(JSON.stringify({ NODE_OPTIONS: process.env.NODE_OPTIONS, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX, heap: require('v8').getHeapStatistics().heap_size_limit }))\n");
    const child = spawnFused(root, log, [process.execPath, script], { EXTRA: '1' }, flags);
    await vi.waitFor(() => expect(child.exited()).toBeDefined(), { timeout: 10_000, interval: 20 });
    expect(child.exited()).toEqual({ code: 0, signal: null });
    return JSON.parse((await readFile(log, 'utf8')).trim()) as Record<string, string>;
  }

  it('the process runs with the flags (its heap limit is the one asked for) and one malloc arena', async () => {
    vi.stubEnv('NODE_OPTIONS', '');
    vi.stubEnv('MALLOC_ARENA_MAX', undefined);
    const env = await envOf(['--max-old-space-size=100', '--max-semi-space-size=2']);
    expect(env.NODE_OPTIONS).toBe('--max-old-space-size=100 --max-semi-space-size=2');
    expect(env.MALLOC_ARENA_MAX).toBe('1');
    // V8's limit is the old space plus the young generation (3 semi-spaces): 106 MiB here; Node 24's
    // default young generation alone would be 192 MiB next to a 100 MiB old space.
    expect(Number(env.heap)).toBeGreaterThanOrEqual(100 * 1024 * 1024);
    expect(Number(env.heap)).toBeLessThanOrEqual(110 * 1024 * 1024);
  });

  it("snaphost's own NODE_OPTIONS and MALLOC_ARENA_MAX are kept", async () => {
    vi.stubEnv('NODE_OPTIONS', '--no-deprecation');
    vi.stubEnv('MALLOC_ARENA_MAX', '4');
    const env = await envOf(['--max-semi-space-size=2']);
    expect(env.NODE_OPTIONS).toBe('--no-deprecation --max-semi-space-size=2');
    expect(env.MALLOC_ARENA_MAX).toBe('4');
  });
});
