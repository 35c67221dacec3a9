/**
 * The memory ceiling on fused's host cgroups, on fake cgroup trees: v2 gets memory.high and
 * memory.max, v1's memory hierarchy its soft and hard limits (hard first), a cgroup without a
 * memory controller is skipped, none at all is reported, and a write that fails is reported
 * with what was set before it, never thrown.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { limitCgroupMemory, memoryLimitFiles } from '../../../../../backends/stargz-lazy/fused/cgroup-memory.js';

const MiB = 1024 * 1024;
const dirs: string[] = [];
async function cgroup(files: string[]): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'cgmem-'));
  dirs.push(root);
  const dir = path.join(root, 'snaphost-fused');
  await mkdir(dir);
  for (const f of files) await writeFile(path.join(dir, f), 'max\n');
  return dir;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('memoryLimitFiles', () => {
  it('v2: memory.high and memory.max; v1: the same as soft and hard limits, the hard one first', () => {
    const limits = { high: 256 * MiB, max: 768 * MiB };
    expect(memoryLimitFiles('v2', limits)).toEqual({ 'memory.high': 256 * MiB, 'memory.max': 768 * MiB });
    expect(Object.entries(memoryLimitFiles('v1', limits))).toEqual([['memory.limit_in_bytes', 768 * MiB], ['memory.soft_limit_in_bytes', 256 * MiB]]);
    for (const bad of [{ high: 0, max: 1 }, { high: 2, max: 1 }, { high: 1.5, max: 2 }]) expect(() => memoryLimitFiles('v2', bad)).toThrow(RangeError);
  });
});

describe('limitCgroupMemory', () => {
  it('writes the limits where a memory controller is, skips the others', async () => {
    const v2 = await cgroup(['cgroup.procs', 'memory.high', 'memory.max']);
    const v1 = await cgroup(['cgroup.procs', 'memory.limit_in_bytes', 'memory.soft_limit_in_bytes']);
    const cpu = await cgroup(['cgroup.procs', 'cpu.shares']);
    const out = await limitCgroupMemory([v2, cpu, v1], { high: 200 * MiB, max: 400 * MiB });
    expect(out).toEqual([
      { dir: v2, set: { 'memory.high': 200 * MiB, 'memory.max': 400 * MiB } },
      { dir: v1, set: { 'memory.limit_in_bytes': 400 * MiB, 'memory.soft_limit_in_bytes': 200 * MiB } },
    ]);
    expect(await readFile(path.join(v2, 'memory.high'), 'utf8')).toBe(`${200 * MiB}\n`);
    expect(await readFile(path.join(v1, 'memory.limit_in_bytes'), 'utf8')).toBe(`${400 * MiB}\n`);
    expect(await readFile(path.join(cpu, 'cpu.shares'), 'utf8')).toBe('max\n');
  });

  it('no memory controller anywhere: one result that says so', async () => {
    const cpu = await cgroup(['cgroup.procs']);
    const [only, ...rest] = await limitCgroupMemory([cpu], { high: 200 * MiB, max: 400 * MiB });
    expect(rest).toEqual([]);
    expect(only?.problem).toMatch(/no memory controller/);
  });

  it('a write that fails is reported with what was set before it', async () => {
    const v2 = await cgroup(['memory.high']);
    await mkdir(path.join(v2, 'memory.max')); // writing a directory fails (EISDIR)
    const [r] = await limitCgroupMemory([v2], { high: 200 * MiB, max: 400 * MiB });
    expect(r).toEqual({ dir: v2, set: { 'memory.high': 200 * MiB }, problem: 'cannot set its memory limits: EISDIR' });
  });
});
