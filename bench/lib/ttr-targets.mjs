#!/usr/bin/env node
// Issue 16's time-to-ready targets, checked on the medians of bench/time-to-ready.sh:
//
//   node bench/lib/ttr-targets.mjs bench/results/time-to-ready.tsv
//
// Prints a TSV: target, ratio (of medians), bound, met (yes/no; "-" for a comparison that is not
// a target). Images or contenders that were not measured are left out. With a stargz-lazy@before
// contender (BEFORE_ROOT), also this build against it and it against the Go peer (comparisons,
// not targets: the before/after bound is bench/lib/before-after.mjs's 5 %).
import { mediansOf } from './read-tsv.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: ttr-targets.mjs SUMMARY_TSV');
  process.exit(2);
}
const median = mediansOf(file);

const checks = []; // [name, numerator, denominator, bound, isTarget]
for (const img of ['py', 'node', 'py-opt', 'node-opt']) {
  const how = img.endsWith('-opt') ? 'prefetch landmark' : 'no landmark';
  for (const m of ['cold_s', 'warm_s']) {
    checks.push([`${img} (${how}) ${m} / Go`, ['stargz-lazy', `${img}.${m}`], ['stargz-go', `${img}.${m}`], 0.9, true]);
  }
  checks.push([`${img} cold_pull_s / Go`, ['stargz-lazy', `${img}.cold_pull_s`], ['stargz-go', `${img}.cold_pull_s`], 0.9, false]);
  checks.push([`${img} cold_run_s / Go`, ['stargz-lazy', `${img}.cold_run_s`], ['stargz-go', `${img}.cold_run_s`], 0.9, false]);
  if (!img.endsWith('-opt')) {
    checks.push([`${img} cold_s / overlayfs full pull`, ['stargz-lazy', `${img}.cold_s`], ['overlayfs', `${img}.cold_s`], 0.5, true]);
    checks.push([`Go: ${img} cold_s / overlayfs full pull`, ['stargz-go', `${img}.cold_s`], ['overlayfs', `${img}.cold_s`], 0.5, false]);
  }
  for (const m of ['cold_s', 'warm_s']) {
    checks.push([`${img} ${m}: stargz-lazy / stargz-lazy@before`, ['stargz-lazy', `${img}.${m}`], ['stargz-lazy@before', `${img}.${m}`], 1.05, false]);
    checks.push([`before: ${img} ${m} / Go`, ['stargz-lazy@before', `${img}.${m}`], ['stargz-go', `${img}.${m}`], 0.9, false]);
  }
}

console.log('target\tratio\tbound\tmet');
for (const [name, [ca, ma], [cb, mb], bound, isTarget] of checks) {
  const a = median(ca, ma);
  const b = median(cb, mb);
  if (a === undefined || b === undefined || b === 0) continue;
  const ratio = a / b;
  console.log(`${name}\t${ratio.toFixed(3)}\t<= ${bound}\t${isTarget ? (ratio <= bound ? 'yes' : 'no') : '-'}`);
}
