#!/usr/bin/env node
// Where a lazy pull's time goes, from the registry's side: the blob GETs of one client in a time
// window of the benchmark registry's JSON access log (bench/lib/stargz-registry.sh), as a
// summary: requests, bytes, the time at least one request was in flight (busy) against the
// window, the summed request time, the most requests in flight at once, and requests by size.
//
//   node bench/lib/ttr-timeline.mjs REGISTRY_LOG FROM TO [UA_PREFIX]
//
// FROM, TO: ISO times, HH:MM:SS of the log's day, or epoch seconds (time-to-ready-steps.tsv); UA_PREFIX: the User-Agent's start ("" for
// none, snaphost's client; "Go-http-client" for the Go reference; default: every client).
import { readFileSync } from 'node:fs';

const [file, fromArg, toArg, ua] = process.argv.slice(2);
if (!file || !fromArg || !toArg) {
  console.error('usage: ttr-timeline.mjs REGISTRY_LOG FROM TO [UA_PREFIX]');
  process.exit(2);
}
const lines = readFileSync(file, 'utf8').split('\n');
const parseDuration = (d) => {
  const m = /^([\d.]+)(ns|µs|us|ms|s)$/.exec(d ?? '');
  if (!m) return 0;
  return Number(m[1]) * { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1000 }[m[2]];
};
const reqs = [];
let day;
for (const l of lines) {
  if (!l.includes('"response completed"')) continue;
  let e;
  try {
    e = JSON.parse(l);
  } catch {
    continue;
  }
  day ??= e.time.slice(0, 10);
  if (e['http.request.method'] !== 'GET' || !/\/blobs\/sha256:/.test(e['http.request.uri'])) continue;
  if (ua !== undefined && !(e['http.request.useragent'] ?? '').startsWith(ua)) continue;
  if (ua === '' && (e['http.request.useragent'] ?? '') !== '') continue;
  const end = Date.parse(e.time);
  const ms = parseDuration(e['http.response.duration']);
  reqs.push({ start: end - ms, end, ms, bytes: Number(e['http.response.written'] ?? 0) });
}
const at = (s) => (/^\d{9,}(\.\d+)?$/.test(s) ? Number(s) * 1000 : Date.parse(/^\d\d:\d\d/.test(s) ? `${day}T${s}Z` : s));
const from = at(fromArg);
const to = at(toArg);
const w = reqs.filter((r) => r.end >= from && r.start <= to).sort((a, b) => a.start - b.start);
let busy = 0;
let curEnd = -Infinity;
let curStart = 0;
for (const r of w) {
  if (r.start > curEnd) {
    if (curEnd > -Infinity) busy += curEnd - curStart;
    curStart = r.start;
    curEnd = r.end;
  } else curEnd = Math.max(curEnd, r.end);
}
if (curEnd > -Infinity) busy += curEnd - curStart;
const events = w.flatMap((r) => [[r.start, 1], [r.end, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
let inFlight = 0;
let maxInFlight = 0;
for (const [, d] of events) maxInFlight = Math.max(maxInFlight, (inFlight += d));
const bins = { '<=64KiB': 0, '<=1MiB': 0, '<=4MiB': 0, '>4MiB': 0 };
for (const r of w) bins[r.bytes <= 65536 ? '<=64KiB' : r.bytes <= 1048576 ? '<=1MiB' : r.bytes <= 4194304 ? '<=4MiB' : '>4MiB']++;
const s = (ms) => (ms / 1000).toFixed(2);
console.log(
  [
    `window ${s(to - from)} s`,
    `GETs ${w.length}`,
    `bytes ${(w.reduce((n, r) => n + r.bytes, 0) / 1048576).toFixed(1)} MiB`,
    `registry busy ${s(busy)} s (${((100 * busy) / Math.max(1, to - from)).toFixed(0)} %)`,
    `summed request time ${s(w.reduce((n, r) => n + r.ms, 0))} s`,
    `at most ${maxInFlight} in flight`,
    `by size ${Object.entries(bins).map(([k, v]) => `${k}:${v}`).join(' ')}`,
  ].join('; '),
);
