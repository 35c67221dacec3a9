/**
 * Wall-clock time in nanoseconds. containerd's suite checks `Created` against its own
 * nanosecond clock read just before and after the call, so a millisecond `Date` is wrong in
 * both directions. We anchor the monotonic `hrtime` to the wall clock at the instant
 * `Date.now()` ticks to its next millisecond (then the wall time is that millisecond exactly;
 * the best of ANCHOR_EDGES ticks, as a late look at a tick only makes the anchor late), and
 * re-anchor when the two drift apart (NTP steps, suspend), so the result stays within
 * microseconds of real time. `performance.timeOrigin` was measured 0.13 to 0.3 ms ahead of the
 * system clock here, enough for containerd's suite to see an `Updated` time after its own
 * clock read after the call returned.
 */
import type { Timestamp } from './snapshotter.js';

const REANCHOR_NS = 1_000_000n; // drift allowed before re-anchoring: 1 ms

let wallAtAnchor = 0n;
let hrAtAnchor = 0n;

/** Millisecond ticks looked at per anchoring (each a spin of at most about 1 ms). */
const ANCHOR_EDGES = 3;
/** A tick not seen within this long (a clock that does not move) ends the spin. */
const SPIN_LIMIT_NS = 5_000_000n;

function anchor(): void {
  let best: bigint | undefined; // wall - hrtime at the earliest look at a tick
  for (let i = 0; i < ANCHOR_EDGES; i++) {
    const before = Date.now();
    const spinStart = process.hrtime.bigint();
    let ms = before;
    let hr = spinStart;
    while (ms === before && hr - spinStart < SPIN_LIMIT_NS) {
      ms = Date.now();
      hr = process.hrtime.bigint();
    }
    const offset = BigInt(ms) * 1_000_000n - hr;
    if (best === undefined || offset > best) best = offset;
  }
  hrAtAnchor = 0n;
  wallAtAnchor = best!;
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
