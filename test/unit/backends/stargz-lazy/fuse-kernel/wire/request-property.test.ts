/**
 * decodeRequest on arbitrary bytes: it either returns a request or throws a WireError, never
 * another error; and what it returns is bounded by the input (names at most 255 bytes, a forget
 * list no longer than the body can hold).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OP } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import { decodeRequest, type Request } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/request.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { request } from './build-request.js';

function boundedBy(r: Request, length: number): void {
  if ('name' in r) {
    expect(Buffer.byteLength(r.name)).toBeLessThanOrEqual(Math.min(255 * 3, length));
    expect(r.name).not.toContain('\0');
    if (r.opcode === OP.LOOKUP) expect(r.name).not.toContain('/');
  }
  if ('forgets' in r) expect(r.forgets.length * 16).toBeLessThanOrEqual(length - 48);
}

function settle(buf: Uint8Array, length: number): void {
  try {
    boundedBy(decodeRequest(buf, length), length);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}

const opcodes = fc.oneof(fc.constantFrom(...Object.values(OP)), fc.integer({ min: 0, max: 0xffff_ffff }));

describe('decodeRequest on arbitrary input', () => {
  it('random bytes and lengths: a request or a WireError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: -5, max: 700 }), (bytes, length) => settle(bytes, length)), { numRuns: 2000 });
  });
  it('a consistent header over a random body, for every opcode', () => {
    fc.assert(fc.property(opcodes, fc.uint8Array({ maxLength: 400 }), fc.nat({ max: 3 }), (opcode, body, ext) => {
      const b = request({ opcode }, body);
      b.writeUInt16LE(ext, 36);
      settle(b, b.length);
    }), { numRuns: 3000 });
  });
  it('a header whose len lies, over a random body', () => {
    fc.assert(fc.property(opcodes, fc.uint8Array({ maxLength: 200 }), fc.nat(), (opcode, body, len) => {
      const b = request({ opcode, len }, body);
      settle(b, b.length);
    }));
  });
  it('a length past the buffer, NaN or fractional is refused, not read', () => {
    const b = request({ opcode: OP.STATFS });
    for (const length of [b.length + 1, Number.NaN, 40.5, -1]) expect(() => decodeRequest(b, length)).toThrow(WireError);
  });
});
