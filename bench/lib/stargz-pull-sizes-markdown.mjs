#!/usr/bin/env node
// The Markdown table of bench/stargz-lazy-pull-sizes.sh's results: per image, the compressed bytes
// of its layers, the full overlayfs pull, the rpull of both lazy snapshotters (each "median
// [min–max]") and rpull / full pull (ratio of medians) for both; then the blob bytes the registry
// sent during each pull.
//
//   node bench/lib/stargz-pull-sizes-markdown.mjs [SUMMARY_TSV]
//                                 (default: bench/results/stargz-lazy-pull-sizes.tsv)
//
// A contender that was not measured shows "–".
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../results/stargz-lazy-pull-sizes.tsv');
const COLUMNS = ['image', 'contender', 'metric', 'n', 'median', 'min', 'max'];

function fail(message) {
  console.error(`stargz-pull-sizes-markdown: ${message}`);
  process.exit(1);
}

function readSummary(path) {
  if (!existsSync(path)) fail(`${path} is missing: run bash bench/stargz-lazy-pull-sizes.sh`);
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  if (header !== COLUMNS.join('\t')) fail(`${path}: expected the header "${COLUMNS.join(' ')}", got "${header}"`);
  return lines.map((line, i) => {
    const cells = line.split('\t');
    if (cells.length !== COLUMNS.length) fail(`${path}:${i + 2}: expected ${COLUMNS.length} columns, got ${cells.length}`);
    const row = Object.fromEntries(cells.map((v, k) => [COLUMNS[k], v]));
    for (const k of ['n', 'median', 'min', 'max']) {
      row[k] = Number(row[k]);
      if (!Number.isFinite(row[k])) fail(`${path}:${i + 2}: ${k} is not a number`);
    }
    return row;
  });
}

const rows = readSummary(file);
const images = [...new Set(rows.map((r) => r.image))];
if (images.length === 0) fail(`${file} holds no results`);
const find = (image, contender, metric) => rows.find((r) => r.image === image && r.contender === contender && r.metric === metric);

const bytes = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(1)} MB` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} kB` : `${v.toFixed(0)} B`);
const secs = (r) => (r ? `${r.median.toFixed(3)} s [${r.min.toFixed(3)}–${r.max.toFixed(3)}]` : '–');
const range = (r) => (r ? (r.min === r.max ? bytes(r.median) : `${bytes(r.median)} [${bytes(r.min)}–${bytes(r.max)}]`) : '–');
const ratio = (num, den) => (num && den && den.median > 0 ? `${(num.median / den.median).toFixed(3)}x` : '–');
const row = (cells) => `| ${cells.join(' | ')} |`;

const lazy = ['stargz-lazy', 'stargz-go'];
console.log(row(['image (big.bin)', 'layer bytes', 'full pull (overlayfs)', ...lazy.map((c) => `rpull ${c}`), ...lazy.map((c) => `${c} / full pull`)]));
console.log(row(Array(7).fill('---')));
for (const image of images) {
  const layers = find(image, 'image', 'layer_bytes');
  const full = find(image, 'overlayfs', 'pull_s');
  const rpulls = lazy.map((c) => find(image, c, 'rpull_s'));
  console.log(row([image, layers ? bytes(layers.median) : '–', secs(full), ...rpulls.map(secs), ...rpulls.map((r) => ratio(r, full))]));
}
console.log();
console.log(row(['image (big.bin)', 'bytes sent: full pull', ...lazy.map((c) => `bytes sent: rpull ${c}`)]));
console.log(row(Array(4).fill('---')));
for (const image of images) {
  console.log(row([image, range(find(image, 'overlayfs', 'pull_blob_bytes')), ...lazy.map((c) => range(find(image, c, 'rpull_blob_bytes')))]));
}
