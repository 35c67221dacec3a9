#!/usr/bin/env node
// The tables of docs/benchmarks.md "Time to ready (issue 16)", from bench/time-to-ready.sh's results:
//
//   node bench/lib/ttr-markdown.mjs [bench/results/time-to-ready]
//
// Prints markdown: per image, median [min–max] of each phase per contender, the registry's
// blob GETs / MiB per phase and the snapshotter processes' resident memory; then the targets;
// then, when the run had a stargz-lazy@before contender (BEFORE_ROOT), the before/after rows.
import { existsSync } from 'node:fs';
import { readTsv } from './read-tsv.mjs';

const base = process.argv[2] ?? new URL('../results/time-to-ready', import.meta.url).pathname;
const rows = readTsv(`${base}.tsv`);
const get = (c, m) => rows.find((r) => r.contender === c && r.metric === m);
const contenders = ['stargz-lazy', 'stargz-lazy@before', 'stargz-go', 'overlayfs'];
const secs = (c, m) => {
  const r = get(c, m);
  return r ? `${Number(r.median).toFixed(2)} [${Number(r.min).toFixed(2)}–${Number(r.max).toFixed(2)}]` : '–';
};
const traffic = (c, img, phase) => {
  const g = get(c, `${img}.${phase}_blob_gets`);
  const b = get(c, `${img}.${phase}_blob_bytes`);
  return g && b ? `${Number(g.median)} / ${(Number(b.median) / 1048576).toFixed(1)}` : '–';
};
console.log('| image | contender | cold: pull → ready, s | pull, s | run → ready, s | warm run → ready, s | GETs / MiB: pull, run, warm | RSS MiB (daemon + fused) |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const img of ['py', 'node', 'py-opt', 'node-opt']) {
  for (const c of contenders) {
    if (!get(c, `${img}.cold_s`)) continue;
    const rss = get(c, `${img}.rss_total_MiB`);
    console.log(
      `| ${img} | ${c} | ${secs(c, `${img}.cold_s`)} | ${secs(c, `${img}.cold_pull_s`)} | ${secs(c, `${img}.cold_run_s`)} | ${secs(c, `${img}.warm_s`)} | ` +
        `${['pull', 'run', 'warm'].map((p) => traffic(c, img, p)).join(', ')} | ${rss ? Number(rss.median).toFixed(0) : '–'} |`,
    );
  }
}
console.log('');
console.log('| target (ratio of medians) | ratio | bound | met |');
console.log('| --- | --- | --- | --- |');
for (const t of readTsv(`${base}-targets.tsv`)) console.log(`| ${t.target} | ${t.ratio} | ${t.bound} | ${t.met} |`);
if (existsSync(`${base}-before.tsv`)) {
  console.log('');
  console.log('| metric | stargz-lazy@before | stargz-lazy | after / before | worse by > 5 % |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of readTsv(`${base}-before.tsv`)) console.log(`| ${r.metric} | ${r.before} | ${r.after} | ${r['after/before']} | ${r.worse} |`);
}
