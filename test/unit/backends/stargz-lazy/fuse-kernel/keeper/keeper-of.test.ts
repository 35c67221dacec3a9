/** Finding the keeper of a FUSE-serving process from /proc (keeper-of.ts), against a fake /proc. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keeperOf } from '../../../../../../backends/stargz-lazy/fuse-kernel/keeper/keeper-of.js';

let proc: string;
async function processEntry(pid: number, ppid: number, argv: string[]): Promise<void> {
  await mkdir(join(proc, String(pid)), { recursive: true });
  await writeFile(join(proc, String(pid), 'status'), `Name:\tnode\nPid:\t${pid}\nPPid:\t${ppid}\n`);
  await writeFile(join(proc, String(pid), 'cmdline'), argv.join('\0') + '\0');
}

beforeEach(async () => {
  proc = await mkdtemp(join(tmpdir(), 'h17ko-'));
});
afterEach(async () => rm(proc, { recursive: true, force: true }));

describe('keeperOf', () => {
  it("is the parent when the parent runs the keeper's main.js, else undefined", async () => {
    await processEntry(100, 50, ['/opt/node', '/app/dist/backends/stargz-lazy/fuse-kernel/keeper/main.js', '/opt/node', 'main.js']);
    await processEntry(200, 100, ['/opt/node', 'fused/main.js']);
    await processEntry(300, 1, ['/opt/node', 'fused/main.js']);
    await processEntry(400, 250, ['/opt/node', 'fused/main.js']);
    await processEntry(250, 1, ['/usr/bin/containerd']);
    expect(await keeperOf(200, proc)).toBe(100);
    expect(await keeperOf(300, proc)).toBeUndefined(); // parent is init
    expect(await keeperOf(400, proc)).toBeUndefined(); // parent is not a keeper
    expect(await keeperOf(999, proc)).toBeUndefined(); // no such process
  });
});
