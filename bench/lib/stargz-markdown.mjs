#!/usr/bin/env node
// The tables of the stargz-lazy section of docs/benchmarks.md from the results of bench/stargz-lazy.sh:
//
//   node bench/lib/stargz-markdown.mjs [RESULTS_DIR]      (default: bench/results)
//
// Reads stargz-lazy.tsv (median, min, max per contender and metric) and stargz-lazy-targets.tsv,
// prints one side-by-side table (stargz-lazy | Go stargz-snapshotter | overlayfs, each
// "median [min–max]") and the target table, as Markdown.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../results');

function readTsv(name) {
  const file = join(dir, name);
  if (!existsSync(file)) {
    console.error(`${file} is missing: run bash bench/stargz-lazy.sh`);
    process.exit(1);
  }
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = header.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

const rows = readTsv('stargz-lazy.tsv');
const targets = readTsv('stargz-lazy-targets.tsv');
const contenders = ['stargz-lazy', 'stargz-go', 'overlayfs'];

const fmt = {
  s: (v) => `${v.toFixed(3)} s`,
  mibps: (v) => `${v.toFixed(0)} MiB/s`,
  mib: (v) => `${v.toFixed(0)} MiB`,
  bytes: (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} MB` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} kB` : `${v.toFixed(0)} B`),
  n: (v) => v.toFixed(0),
};

// [label, metric per contender (a string for all, or an object), format]; format 'sent' takes a
// metric prefix and shows its _blob_gets / _blob_bytes
const lines = [
  ['`rpull` wall time (lazy) / `ctr image pull` (overlayfs, full)', { 'stargz-lazy': 'rpull_s', 'stargz-go': 'rpull_s', overlayfs: 'pull_s' }, 's'],
  ['blob bytes the registry sent during the pull', { 'stargz-lazy': 'rpull_blob_bytes', 'stargz-go': 'rpull_blob_bytes', overlayfs: 'pull_blob_bytes' }, 'bytes'],
  ['blob GETs during the pull', { 'stargz-lazy': 'rpull_blob_gets', 'stargz-go': 'rpull_blob_gets', overlayfs: 'pull_blob_gets' }, 'n'],
  ['layer blobs in containerd\'s content store after rpull', 'rpull_layers_in_content_store', 'n'],
  ['`rpull` with fused started inside the first prepare (`startFusedAtOpen: false`)', 'rpull_late_s', 's'],
  ['pull to first container output (`echo ok`)', 'pull_to_output_s', 's'],
  ['second rpull by the running daemon (image removed + GC first)', 'rpull_again_s', 's'],
  ['bytes sent for the second rpull', 'rpull_again_blob_bytes', 'bytes'],
  ['time to first byte of the 64 MiB file, cold', 'ttfb_cold_s', 's'],
  ['bytes sent for the first byte', 'ttfb_blob_bytes', 'bytes'],
  ['sequential read of 64 MiB, cold', 'read_cold_MiBps', 'mibps'],
  ['… its GETs / bytes sent', 'read_cold', 'sent'],
  ['… CPU seconds of the snapshotter processes', 'read_cold_cpu_s', 'n1'],
  ['sequential read, warm (snapshotter cache, page cache dropped)', 'read_warm_MiBps', 'mibps'],
  ['sequential read, hot (page cache)', 'read_hot_MiBps', 'mibps'],
  ['`find /data/small \\| wc -l` (5051 entries), cold', 'find_cold_s', 's'],
  ['same, warm', 'find_warm_s', 's'],
  ['bytes sent for `find`', 'find_blob_bytes', 'bytes'],
  ['read all 5000 small files (sha256), cold', 'small_files_read_cold_s', 's'],
  ['… their GETs / bytes sent', 'small_files_read_cold', 'sent'],
  ['RSS of the gRPC daemon after the reads', 'rss_daemon_MiB', 'mib'],
  ['RSS of the FUSE-serving process (fused)', 'rss_fused_MiB', 'mib'],
  ['RSS total', 'rss_total_MiB', 'mib'],
];

const get = (c, m) => rows.find((r) => r.contender === c && r.metric === m);
const cell = (c, m, f) => {
  const r = get(c, m);
  if (!r) return '–';
  const format = f === 'n1' ? (v) => v.toFixed(2) : fmt[f];
  const [med, lo, hi] = [r.median, r.min, r.max].map(Number);
  if (lo === hi) return format(med);
  // The unit once, after the range: "0.839 [0.603–1.716] s" (bytes keep a unit each: it may change).
  const [fm, fl, fh] = [med, lo, hi].map(format);
  const unit = / (s|MiB\/s|MiB)$/.exec(fm)?.[0] ?? '';
  const bare = (x) => (unit ? x.slice(0, -unit.length) : x);
  return `${bare(fm)} [${bare(fl)}–${bare(fh)}]${unit}`;
};
const pair = (c, prefix) => {
  const g = get(c, `${prefix}_blob_gets`);
  const b = get(c, `${prefix}_blob_bytes`);
  return g && b ? `${fmt.n(Number(g.median))} / ${fmt.bytes(Number(b.median))}` : '–';
};

const n = Math.max(...rows.map((r) => Number(r.n)));
const out = [`| metric (median [min–max], n=${n}) | stargz-lazy (snaphost) | Go stargz-snapshotter v0.12 | containerd overlayfs |`, '|---|---|---|---|'];
for (const [label, metric, f] of lines) {
  let cells;
  if (f === 'sent') {
    cells = contenders.map((c) => pair(c, metric));
  } else {
    cells = contenders.map((c) => cell(c, typeof metric === 'string' ? metric : metric[c], f));
  }
  if (cells.every((x) => x === '–')) continue;
  out.push(`| ${label} | ${cells.join(' | ')} |`);
}
out.push('', '| target (issue 4) | ratio of medians | bound | met |', '|---|---|---|---|');
for (const t of targets) out.push(`| ${t.target} | ${t.ratio} | ${t.bound} | ${t.met === '-' ? 'for comparison' : t.met} |`);
console.log(out.join('\n'));
