#!/usr/bin/env node
// Cold small-file read latency through lazily mounted layers (the stargz scale benchmark).
//
//   node bench/lib/stargz-read-latency.mjs COUNT FILES DIR...
// Each DIR holds FILES files named dNN/fNNNN, 100 a directory (fNNNN numbered across them): a
// layer's lKK of bench/lib/stargz-scale-image.sh, or data/small of bench/lib/stargz-image.sh.
// Reads COUNT distinct files, round robin over the DIRs, picked by a fixed seed; each file is
// opened and read whole with read(2); the timer covers open + reads + close of that file.
// Prints one JSON line: n, p50_ms, p90_ms, p99_ms, max_ms, mean_ms, bytes. Exits 1 on a failed read.
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

const [countArg, filesArg, ...tops] = process.argv.slice(2);
const count = Number(countArg);
const FILES = Number(filesArg);
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(FILES) || FILES < 1 || tops.length === 0 || count > FILES * tops.length) {
  console.error('usage: stargz-read-latency.mjs COUNT FILES DIR... (COUNT <= FILES x DIRs)');
  process.exit(2);
}
let seed = 12345;
const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
const picked = new Set();
const buf = Buffer.allocUnsafe(1 << 16);
const ms = [];
let bytes = 0;
for (let i = 0; i < count; i++) {
  const top = tops[i % tops.length];
  let f;
  do f = next() % FILES;
  while (picked.has(`${top}/${f}`));
  picked.add(`${top}/${f}`);
  const file = join(top, `d${String(Math.floor(f / 100)).padStart(2, '0')}`, `f${String(f).padStart(4, '0')}`);
  const t0 = process.hrtime.bigint();
  try {
    const fd = openSync(file, 'r');
    let n;
    while ((n = readSync(fd, buf, 0, buf.length, null)) > 0) bytes += n;
    closeSync(fd);
  } catch (err) {
    console.error(`${file}: ${err.message}`);
    process.exit(1);
  }
  ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
ms.sort((a, b) => a - b);
const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
const r3 = (x) => +x.toFixed(3);
console.log(
  JSON.stringify({
    n: ms.length,
    p50_ms: r3(q(0.5)),
    p90_ms: r3(q(0.9)),
    p99_ms: r3(q(0.99)),
    max_ms: r3(ms[ms.length - 1]),
    mean_ms: r3(ms.reduce((a, b) => a + b, 0) / ms.length),
    bytes,
  }),
);
