/** Names for logs: opcodes (known and unknown) and the INIT bits of a flag set, flags2 included. */
import { describe, expect, it } from 'vitest';
import { INIT, OP, initFlagNames, opName } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';

describe('opcodes', () => {
  it('names every opcode once and unknown numbers by value', () => {
    expect(new Set(Object.values(OP)).size).toBe(Object.keys(OP).length);
    expect(opName(OP.READDIRPLUS)).toBe('READDIRPLUS');
    expect(opName(9999)).toBe('OP_9999');
  });
  it('lists the INIT bits of a set, low and high halves, and every bit once', () => {
    expect(initFlagNames(INIT.ASYNC_READ | INIT.INIT_EXT | INIT.PASSTHROUGH | INIT.HAS_RESEND)).toEqual(['ASYNC_READ', 'INIT_EXT', 'PASSTHROUGH', 'HAS_RESEND']);
    expect(initFlagNames(0n)).toEqual([]);
    const bits = Object.values(INIT);
    expect(bits.every((b) => (b & (b - 1n)) === 0n)).toBe(true);
    expect(new Set(bits).size).toBe(bits.length);
  });
});
