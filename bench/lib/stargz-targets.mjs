#!/usr/bin/env node
// Issue 4's benchmark targets, checked on the medians of bench/stargz-lazy.sh:
//
//   node bench/lib/stargz-targets.mjs bench/results/stargz-lazy.tsv
//
// Prints a TSV: target, ratio (of medians), bound, met (yes/no). Targets whose contenders were
// not measured are left out. The Go reference's own ratios are printed too (met = "-"), for
// comparison.
import { mediansOf } from './read-tsv.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: stargz-targets.mjs SUMMARY_TSV');
  process.exit(2);
}
const median = mediansOf(file);

// [name, numerator, denominator, comparison, bound, isTarget]
const checks = [
  ['rpull / overlayfs full pull', ['stargz-lazy', 'rpull_s'], ['overlayfs', 'pull_s'], '<=', 0.1, true],
  ['rpull / Go rpull', ['stargz-lazy', 'rpull_s'], ['stargz-go', 'rpull_s'], '<=', 1, true],
  ['cold sequential read MiB/s / Go', ['stargz-lazy', 'read_cold_MiBps'], ['stargz-go', 'read_cold_MiBps'], '>=', 1, true],
  ['cold time to first byte / Go', ['stargz-lazy', 'ttfb_cold_s'], ['stargz-go', 'ttfb_cold_s'], '<=', 1, true],
  ['warm sequential read MiB/s / overlayfs cold', ['stargz-lazy', 'read_warm_MiBps'], ['overlayfs', 'read_cold_MiBps'], '>=', 0.5, true],
  ['rpull, fused started at the first prepare / Go', ['stargz-lazy', 'rpull_late_s'], ['stargz-go', 'rpull_s'], '<=', 1, false],
  ['pull-to-output / Go', ['stargz-lazy', 'pull_to_output_s'], ['stargz-go', 'pull_to_output_s'], '<=', 1, false],
  ['cold find / Go', ['stargz-lazy', 'find_cold_s'], ['stargz-go', 'find_cold_s'], '<=', 1, false],
  ['all 5000 small files read cold / Go', ['stargz-lazy', 'small_files_read_cold_s'], ['stargz-go', 'small_files_read_cold_s'], '<=', 1, false],
  ['snapshotter share of rpull (first Prepare to last answer) / Go', ['stargz-lazy', 'rpull_snapshotter_span_s'], ['stargz-go', 'rpull_snapshotter_span_s'], '<=', 0.8, false],
  ['snapshotter busy time during rpull / Go', ['stargz-lazy', 'rpull_snapshotter_busy_s'], ['stargz-go', 'rpull_snapshotter_busy_s'], '<=', 0.8, false],
  ['second rpull (daemon running) / Go', ['stargz-lazy', 'rpull_again_s'], ['stargz-go', 'rpull_again_s'], '<=', 1, false],
  ['daemon + FUSE RSS / Go', ['stargz-lazy', 'rss_total_MiB'], ['stargz-go', 'rss_total_MiB'], '<=', 1, false],
  ['Go: rpull / overlayfs full pull', ['stargz-go', 'rpull_s'], ['overlayfs', 'pull_s'], '<=', 0.1, false],
  ['Go: warm sequential read MiB/s / overlayfs cold', ['stargz-go', 'read_warm_MiBps'], ['overlayfs', 'read_cold_MiBps'], '>=', 0.5, false],
];

console.log('target\tratio\tbound\tmet');
for (const [name, [ca, ma], [cb, mb], cmp, bound, isTarget] of checks) {
  const a = median(ca, ma);
  const b = median(cb, mb);
  if (a === undefined || b === undefined || b === 0) continue;
  const ratio = a / b;
  const ok = cmp === '<=' ? ratio <= bound : ratio >= bound;
  console.log(`${name}\t${ratio.toFixed(3)}\t${cmp} ${bound}\t${isTarget ? (ok ? 'yes' : 'no') : '-'}`);
}
