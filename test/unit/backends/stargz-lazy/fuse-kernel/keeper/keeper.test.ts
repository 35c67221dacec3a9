/**
 * The keeper (keeper.ts) with a scripted child (test/fixtures/fuse-kernel/keeper-child.mjs) and a
 * takeFd that opens /dev/null: malformed messages are ignored, a state over the bound is refused
 * (EINVAL), a kept descriptor is handed to the restarted child at fd 4 with its state, the child's
 * release closes the keeper's duplicate, and a clean exit with nothing kept ends the keeper with 0.
 */
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Keeper } from '../../../../../../backends/stargz-lazy/fuse-kernel/keeper/keeper.js';
import { KeptConnections } from '../../../../../../backends/stargz-lazy/fuse-kernel/keeper/kept-connections.js';
import { RestartPolicy } from '../../../../../../backends/stargz-lazy/fuse-kernel/keeper/restart-policy.js';

const child = fileURLToPath(new URL('../../../../../fixtures/fuse-kernel/keeper-child.mjs', import.meta.url));

describe('Keeper', () => {
  it('keeps, refuses, hands over after a SIGKILL, releases and ends with the clean exit', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const taken: number[] = [];
    const closed: number[] = [];
    const device = {
      takeFd: (_pid: number, fd: number) => {
        taken.push(fd);
        return openSync('/dev/null', 'r');
      },
    };
    const kept = new KeptConnections((fd) => closed.push(fd));
    const keeper = new Keeper({ command: [process.execPath, child], device, log, kept, policy: new RestartPolicy({ firstDelayMs: 1 }) });
    keeper.start();
    expect(await keeper.done).toBe(0);
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toContain('ignored a malformed message from the FUSE-serving process');
    expect(lines.find((l) => l.msg === 'cannot keep this FUSE connection: it will not survive a restart of the FUSE-serving process')).toMatchObject({ id: '/big', errno: 22 });
    expect(lines.find((l) => l.msg === 'the FUSE-serving process died; starting it again')).toMatchObject({ signal: 'SIGKILL', kept: 1 });
    expect(msgs).toContain('the FUSE-serving process started again; it takes the kept connections over');
    expect(taken).toEqual([1]); // only /a reached takeFd
    expect(closed).toHaveLength(1); // released by the second run
    expect(keeper.kept).toBe(0);
  }, 20_000);
});
