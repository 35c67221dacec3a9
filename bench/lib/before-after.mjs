#!/usr/bin/env node
// A benchmark's rows, this build against another one measured in the same run (BEFORE_ROOT:
// contenders named `NAME@before`), for "no row more than 5 % worse":
//
//   node bench/lib/before-after.mjs SUMMARY_TSV [--bound 0.05]
//
// SUMMARY_TSV: a summary with the contender in the first column, the metric (or op) in the
// second and a `median…` column (bench/snapshot-ops.sh's and bench/stargz-lazy.sh's). Prints a
// TSV: contender, metric, before (NAME@before's median), after (NAME's), after/before, and
// `worse` = yes when the row is worse by more than the bound: a throughput (`…MiBps`) lower,
// anything else (times, bytes, requests, memory) higher. Only NAME / NAME@before pairs are printed.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { bound: { type: 'string', default: '0.05' } }, allowPositionals: true });
const bound = Number(values.bound);
if (positionals.length !== 1 || !(bound >= 0)) {
  console.error('usage: before-after.mjs SUMMARY_TSV [--bound 0.05]');
  process.exit(2);
}
const [header, ...lines] = readFileSync(positionals[0], 'utf8').trim().split('\n');
const medianCol = header.split('\t').findIndex((c) => c.startsWith('median'));
if (medianCol < 0) {
  console.error(`${positionals[0]}: no median column`);
  process.exit(2);
}
const medians = new Map(lines.map((l) => l.split('\t')).map((c) => [`${c[0]}\t${c[1]}`, Number(c[medianCol])]));

console.log(['contender', 'metric', 'before', 'after', 'after/before', 'worse'].join('\t'));
for (const [key, before] of medians) {
  const [contender, metric] = key.split('\t');
  if (!contender.endsWith('@before')) continue;
  const name = contender.slice(0, -'@before'.length);
  const after = medians.get(`${name}\t${metric}`);
  if (after === undefined) continue;
  const ratio = before === after ? 1 : after / before;
  const higherIsBetter = /MiBps$/.test(metric);
  const worse = higherIsBetter ? ratio < 1 - bound : ratio > 1 + bound;
  console.log([name, metric, before, after, Number.isFinite(ratio) ? ratio.toFixed(3) : 'inf', worse ? 'yes' : 'no'].join('\t'));
}
