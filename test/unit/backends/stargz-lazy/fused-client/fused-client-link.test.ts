/**
 * `FusedClientLink.warm`: a root that served remote layers before gets its FUSE-serving process
 * started ahead of use (a real process, run from source); a root that never did gets none.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FusedClientLink } from '../../../../../backends/stargz-lazy/fused-client/fused-client-link.js';
import { fusedConfigSchema } from '../../../../../backends/stargz-lazy/protocol/fused-config.js';
import { eventually, fusedCommand, quietLog, stopProcess, unmountAllUnder } from '../fused/fused-env.js';

let tmp: string;
const started = new Set<number>();
const links: FusedClientLink[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-fused-link-'));
});

afterAll(async () => {
  for (const link of links) await link.close();
  for (const pid of started) await stopProcess(pid);
  if (tmp) {
    await unmountAllUnder(tmp);
    await rm(tmp, { recursive: true, force: true });
  }
}, 30_000);

function linkFor(root: string): FusedClientLink {
  const link = new FusedClientLink(root, fusedConfigSchema.parse({}), quietLog, 30_000, fusedCommand);
  links.push(link);
  return link;
}

describe('FusedClientLink.warm', () => {
  it('starts nothing for a root that never served a remote layer', async () => {
    const root = join(tmp, 'never');
    await mkdir(root);
    const link = linkFor(root);
    link.warm();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(existsSync(join(root, 'fused.sock'))).toBe(false);
    expect(existsSync(join(root, 'fused.json'))).toBe(false);
    expect(await link.running()).toBeUndefined();
  });

  it('starts the process in the background for a root that has fused.json, and get() then reuses it', async () => {
    const root = join(tmp, 'used');
    await mkdir(root, { mode: 0o700 });
    await writeFile(join(root, 'fused.json'), '{}\n');
    const link = linkFor(root);
    link.warm();
    link.warm(); // a second call while the first is under way starts nothing more
    await eventually(() => existsSync(join(root, 'fused.sock')), 30_000, 'the FUSE-serving process socket');
    const running = await link.running();
    expect(running).toBeDefined();
    const client = await link.get(AbortSignal.timeout(30_000));
    expect(client).toBe(running);
    const pid = (client as unknown as { status: { pid: number } }).status.pid;
    started.add(pid);
    expect(pid).toBeGreaterThan(0);
    expect(await client.list()).toEqual([]);
  }, 60_000);

  it('does nothing after close', async () => {
    const root = join(tmp, 'closed');
    await mkdir(root, { mode: 0o700 });
    await writeFile(join(root, 'fused.json'), '{}\n');
    const link = linkFor(root);
    await link.close();
    link.warm();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(existsSync(join(root, 'fused.sock'))).toBe(false);
  });
});
