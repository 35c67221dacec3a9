/**
 * Checks that a value fits the field it is written to, so an encoder fails with a WireError
 * naming the field instead of a RangeError from the buffer or a silently truncated value.
 */
import { WireError } from './wire-error.js';

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

export function u64(v: bigint, what: string): bigint {
  if (v < 0n || v > U64_MAX) throw new WireError(`${what} ${v} is not a u64`);
  return v;
}

export function i64(v: bigint, what: string): bigint {
  if (v < I64_MIN || v > I64_MAX) throw new WireError(`${what} ${v} is not an i64`);
  return v;
}

/** An integer in 0..max (u16: 0xffff, u32: 0xffff_ffff). */
export function bounded(n: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new WireError(`${what} ${n} is not in 0..${max}`);
  return n;
}

/** A non-negative integer a u64 field carries exactly (sizes, offsets, counts). */
export function safeCount(n: number, what: string): bigint {
  if (!Number.isSafeInteger(n) || n < 0) throw new WireError(`${what} ${n} is not a non-negative safe integer`);
  return BigInt(n);
}
