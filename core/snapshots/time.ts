/**
 * Wall-clock time in nanoseconds. containerd's suite checks `Created` against its own
 * nanosecond clock read just before and after the call, so a millisecond `Date` is wrong in
 * both directions. We anchor the monotonic `hrtime` to the high-resolution wall clock
 * (`performance.timeOrigin + performance.now()`, microsecond precision) and re-anchor when the
 * two drift apart (NTP slews, suspend), so the result stays within microseconds of real time.
 */
import { performance } from 'node:perf_hooks';
import type { Timestamp } from './snapshotter.js';

const REANCHOR_NS = 1_000_000n; // drift allowed before re-anchoring: 1 ms

let wallAtAnchor = 0n;
let hrAtAnchor = 0n;

function anchor(): void {
  hrAtAnchor = process.hrtime.bigint();
  const wallUs = performance.timeOrigin * 1000 + performance.now() * 1000;
  wallAtAnchor = BigInt(Math.floor(wallUs)) * 1000n;
}
anchor();

let last = 0n;

/** Current wall time in ns since the Unix epoch; strictly increasing within this process. */
export function nowNs(): Timestamp {
  let t = wallAtAnchor + (process.hrtime.bigint() - hrAtAnchor);
  const wallMs = BigInt(Date.now()) * 1_000_000n;
  const drift = t - wallMs;
  // Date.now() truncates to ms, so t is legitimately up to 1 ms ahead of it.
  if (drift < -REANCHOR_NS || drift > 2n * REANCHOR_NS) {
    anchor();
    t = wallAtAnchor + (process.hrtime.bigint() - hrAtAnchor);
  }
  if (t <= last) t = last + 1n;
  last = t;
  return t;
}

/** `seconds` + `nanos` parts of a timestamp (what protobuf's Timestamp carries). */
export function splitNs(t: Timestamp): { seconds: bigint; nanos: number } {
  let seconds = t / 1_000_000_000n;
  let nanos = t % 1_000_000_000n;
  if (nanos < 0n) {
    nanos += 1_000_000_000n;
    seconds -= 1n;
  }
  return { seconds, nanos: Number(nanos) };
}

export function joinNs(seconds: bigint, nanos: number): Timestamp {
  return seconds * 1_000_000_000n + BigInt(nanos);
}

/** ISO-8601 with nanoseconds, for logs and `snaphost status`. */
export function formatNs(t: Timestamp): string {
  const { seconds, nanos } = splitNs(t);
  const iso = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return `${iso}.${String(nanos).padStart(9, '0')}Z`;
}
