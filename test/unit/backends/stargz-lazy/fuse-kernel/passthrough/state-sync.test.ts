/** StateSync: changes in one turn are sent once, nothing before start or once the mount is no longer served. */
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { StateSync } from '../../../../../../backends/stargz-lazy/fuse-kernel/passthrough/state-sync.js';

describe('StateSync', () => {
  it('sends once per turn after start, and not while the mount is not served', async () => {
    const sync = new StateSync();
    let sent = 0;
    let served = true;
    sync.changed();
    await turn();
    expect(sent).toBe(0); // not started: nothing to send to
    sync.start(() => sent++, () => served);
    await turn();
    expect(sent).toBe(1); // the changes before start
    sync.changed();
    sync.changed();
    sync.changed();
    await turn();
    expect(sent).toBe(2);
    served = false;
    sync.changed();
    await turn();
    expect(sent).toBe(2);
  });
});
