import { describe, expect, it } from 'vitest';
import { encodeDev } from '../../../../../backends/stargz-lazy/fs/node-stat.js';

describe('encodeDev', () => {
  it('encodes device numbers as Linux does in 32 bits (glibc makedev for small majors)', () => {
    expect(encodeDev(0, 0)).toBe(0);
    expect(encodeDev(1, 3)).toBe(0x103);
    expect(encodeDev(7, 0)).toBe(0x700);
    expect(encodeDev(8, 300)).toBe(0x10082c); // minor 0x12c: low byte 0x2c, the rest above the major
    expect(encodeDev(4095, 0xfffff)).toBe(0xffffffff); // unsigned, never negative
  });
});
