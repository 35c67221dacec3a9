// Where a process spent its CPU in a wall-clock window, bucket by bucket: a CPU profile written
// by bench/lib/stargz-cpu-prof.cjs (it records the wall clock next to the profile's monotonic
// one), printed as one line per bucket with the busy milliseconds and the functions that held
// the CPU most (self time).
//
//   node bench/lib/cpuprofile-timeline.mjs FILE.cpuprofile FROM TO [BUCKET_MS]
//
// FROM/TO: ISO times or HH:MM:SS.mmm (today, UTC), e.g. the `time` of two log lines.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [file, fromArg, toArg, bucketArg] = process.argv.slice(2);
if (!file || !fromArg || !toArg) {
  console.error('usage: cpuprofile-timeline.mjs FILE FROM TO [BUCKET_MS]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
if (!profile.clock) {
  console.error(`${file}: no clock record (written by an older stargz-cpu-prof.cjs)`);
  process.exit(1);
}
const wall = (s) => {
  const iso = /^\d\d:\d\d:\d\d(\.\d+)?$/.test(s) ? `${new Date(profile.clock.epochMs).toISOString().slice(0, 10)}T${s}Z` : s;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${s}`);
  return ms;
};
const from = wall(fromArg);
const to = wall(toArg);
const bucket = Number(bucketArg ?? 10);
const toWall = (us) => profile.clock.epochMs - (profile.clock.monoUs - us) / 1000;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anon)'}${where ? ` ${where}` : ''}`;
};
const buckets = new Map();
let t = profile.startTime;
profile.samples.forEach((id, i) => {
  const prev = t;
  t += profile.timeDeltas[i] ?? 0;
  const w = toWall(t);
  if (w < from || w >= to) return;
  const node = byId.get(id);
  const name = label(node);
  if (name.startsWith('(idle)')) return;
  const k = Math.floor((w - from) / bucket);
  const b = buckets.get(k) ?? { ms: 0, fns: new Map() };
  const dt = (t - prev) / 1000;
  b.ms += dt;
  b.fns.set(name, (b.fns.get(name) ?? 0) + dt);
  buckets.set(k, b);
});
for (let k = 0; k * bucket < to - from; k++) {
  const b = buckets.get(k);
  const at = new Date(from + k * bucket).toISOString().slice(17, 23);
  if (!b) {
    console.log(`${at}  idle`);
    continue;
  }
  const top = [...b.fns].sort((x, y) => y[1] - x[1]).slice(0, 4).map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join(' | ');
  console.log(`${at} ${b.ms.toFixed(1).padStart(5)} ms  ${top}`);
}
