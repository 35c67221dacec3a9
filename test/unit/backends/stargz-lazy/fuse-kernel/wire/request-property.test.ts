/**
 * decodeRequest on arbitrary bytes: it either returns a request or throws a WireError, never
 * another error; and what it returns is bounded by the input (names at most 255 bytes, a forget
 * list no longer than the body can hold).
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OP } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import { decodeRequest, type Request } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/request.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { cstr, fields, request } from './build-request.js';

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

/** Every request recorded from the kernel (test/fixtures/fuse-kernel/linux-*.json). */
const DIR = new URL('../../../../../fixtures/fuse-kernel/', import.meta.url);
const recorded = readdirSync(DIR)
  .filter((f) => /^linux-.*\.json$/.test(f))
  .flatMap((f) => (JSON.parse(readFileSync(new URL(f, DIR), 'utf8')) as { steps: { messages: string[] }[] }).steps)
  .flatMap((s) => s.messages.map((h) => Buffer.from(h, 'hex')));

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
  it('real kernel requests with bytes flipped or cut short: a request or a WireError', () => {
    expect(recorded.length).toBeGreaterThan(0);
    const flip = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) });
    fc.assert(fc.property(fc.nat({ max: recorded.length - 1 }), fc.array(flip, { minLength: 1, maxLength: 4 }), fc.nat(), (i, flips, cut) => {
      const msg = Buffer.from(recorded[i]!);
      // Flips past the header's len field keep the message whole, so the body's checks run.
      for (const { at, xor } of flips) msg[4 + (at % (msg.length - 4))]! ^= xor;
      settle(msg, msg.length);
      const short = msg.subarray(0, cut % (msg.length + 1));
      settle(short, short.length);
    }), { numRuns: 3000 });
  });
  it('a header whose len lies, over a random body', () => {
    fc.assert(fc.property(opcodes, fc.uint8Array({ maxLength: 200 }), fc.nat(), (opcode, body, len) => {
      const b = request({ opcode, len }, body);
      settle(b, b.length);
    }));
  });
  it('round trip: READ-shaped and name-carrying requests built from any field values decode to those values', () => {
    const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
    const name = fc.string({ minLength: 1, maxLength: 60 }).filter((n) => !/[\/\0]/.test(n) && Buffer.byteLength(n) <= 255);
    fc.assert(fc.property(fc.constantFrom(OP.READ, OP.READDIR, OP.READDIRPLUS), u64, u64, fc.maxSafeNat(), u32, u32, u64, u32, (opcode, unique, fh, offset, size, readFlags, lockOwner, flags) => {
      const body = fields([8, fh], [8, offset], [4, size], [4, readFlags], [8, lockOwner], [4, flags], [4, 0]);
      const r = decodeRequest(request({ opcode, unique }, body), 80);
      expect(r).toEqual({ opcode, unique, nodeid: 1n, uid: 1000, gid: 1001, pid: 4242, resend: unique >= 1n << 63n, fh, offset, size, readFlags, lockOwner, flags });
    }));
    fc.assert(fc.property(name, u32, (n, size) => {
      const lookup = request({ opcode: OP.LOOKUP }, cstr(n));
      expect(decodeRequest(lookup, lookup.length)).toMatchObject({ name: n });
      const getx = request({ opcode: OP.GETXATTR }, Buffer.concat([fields([4, size], [4, 0]), cstr(`user.${n}`)]));
      expect(decodeRequest(getx, getx.length)).toMatchObject({ name: `user.${n}`, size });
    }));
  });
  it('decodes from a plain Uint8Array view into a larger buffer as from a Buffer', () => {
    const msg = request({ opcode: OP.LOOKUP, unique: 3n }, cstr('lib'));
    const big = new Uint8Array(256);
    big.set(msg, 64);
    const view = big.subarray(64);
    expect(decodeRequest(view, msg.length)).toMatchObject({ opcode: OP.LOOKUP, unique: 3n, name: 'lib' });
  });
  it('a length past the buffer, NaN or fractional is refused, not read', () => {
    const b = request({ opcode: OP.STATFS });
    for (const length of [b.length + 1, Number.NaN, 40.5, -1]) expect(() => decodeRequest(b, length)).toThrow(WireError);
  });
});
