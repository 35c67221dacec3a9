#!/usr/bin/env node
// Issue 17's targets, checked on the medians of bench/stargz-lazy.sh run with both FUSE
// transports side by side (contenders stargz-lazy@kernel and stargz-lazy@fuse-native, the Go
// peer and overlayfs):
//
//   node bench/lib/transport-targets.mjs bench/results/stargz-lazy.tsv
//
// Prints a TSV: target, ratio (of medians), bound, met (yes/no). Targets whose contenders were
// not measured are left out. "No worse than today's transport" is checked against
// stargz-lazy@fuse-native measured in the same run, with 5 % for noise.
import { mediansOf } from './read-tsv.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: transport-targets.mjs SUMMARY_TSV');
  process.exit(2);
}
const median = mediansOf(file);
const K = 'stargz-lazy@kernel';
const N = 'stargz-lazy@fuse-native';
const NOISE = 1.05;

// [name, numerator, denominator, comparison, bound]
const checks = [
  ['kernel: warm sequential read / overlayfs from local disk', [K, 'read_warm_MiBps'], ['overlayfs', 'read_cold_MiBps'], '>=', 0.95],
  ['fuse-native: warm sequential read / overlayfs from local disk (reference)', [N, 'read_warm_MiBps'], ['overlayfs', 'read_cold_MiBps'], '>=', 0.95],
  ['kernel: hot read (page cache) / Go peer', [K, 'read_hot_MiBps'], ['stargz-go', 'read_hot_MiBps'], '>=', 1],
  ['kernel: cold sequential read / fuse-native', [K, 'read_cold_MiBps'], [N, 'read_cold_MiBps'], '>=', 1 / NOISE],
  ['kernel: cold time to first byte / fuse-native', [K, 'ttfb_cold_s'], [N, 'ttfb_cold_s'], '<=', NOISE],
  ['kernel: all small files read cold / fuse-native', [K, 'small_files_read_cold_s'], [N, 'small_files_read_cold_s'], '<=', NOISE],
  ['kernel: cold find / fuse-native', [K, 'find_cold_s'], [N, 'find_cold_s'], '<=', NOISE],
  ['kernel: FUSE process RSS / fuse-native', [K, 'rss_fused_MiB'], [N, 'rss_fused_MiB'], '<=', 1],
];

console.log('target\tratio\tbound\tmet');
for (const [name, [ca, ma], [cb, mb], cmp, bound] of checks) {
  const a = median(ca, ma);
  const b = median(cb, mb);
  if (a === undefined || b === undefined || b === 0) continue;
  const ratio = a / b;
  const ok = cmp === '<=' ? ratio <= bound : ratio >= bound;
  console.log(`${name}\t${ratio.toFixed(3)}\t${cmp} ${bound.toFixed(3)}\t${name.startsWith('kernel') ? (ok ? 'yes' : 'no') : '-'}`);
}
