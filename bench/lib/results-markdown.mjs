#!/usr/bin/env node
// Markdown tables of the benchmark results, for docs/benchmarks.md:
//
//   node bench/lib/results-markdown.mjs [RESULTS_DIR]     (default: bench/results)
//
// Reads pull-unpack.tsv, snapshot-ops.tsv and many-snapshots.tsv (those that exist) and prints
// one table per benchmark: medians with [min–max], ratios against the reference contender.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../results');

function readTsv(name) {
  const file = join(dir, name);
  if (!existsSync(file)) return undefined;
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = header.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

const table = (head, rows) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const num = (v, digits) => Number(v).toFixed(digits);
const range = (r, digits) => `${num(r.median, digits)} [${num(r.min, digits)}–${num(r.max, digits)}]`;

function pullUnpack() {
  const rows = readTsv('pull-unpack.tsv');
  if (!rows) return;
  const get = (c, m) => rows.find((r) => r.contender === c && r.metric === m);
  const contenders = [...new Set(rows.map((r) => r.contender))];
  const base = get('overlayfs', 'pull') && get('overlayfs', 'unpack');
  const ratio = (c, m) => (base && get(c, m) ? num(get(c, m).median / get('overlayfs', m).median, 3) : '–');
  const cell = (c, m, d) => (get(c, m) ? range(get(c, m), d) : '–');
  console.log(`### pull + unpack (n = ${get(contenders[0], 'pull')?.n ?? '?'} per contender), seconds: median [min–max]\n`);
  console.log(
    table(
      ['contender', 'pull', 'pull / overlayfs', 'unpack', 'unpack / overlayfs', 'containerd CPU (pull)', 'snapshotter process CPU (pull)', 'containerd CPU (unpack)', 'snapshotter process CPU (unpack)'],
      contenders.map((c) => [
        c,
        cell(c, 'pull', 3),
        ratio(c, 'pull'),
        cell(c, 'unpack', 3),
        ratio(c, 'unpack'),
        cell(c, 'pull_cpu_containerd', 2),
        cell(c, 'pull_cpu_snapshotter', 2),
        cell(c, 'unpack_cpu_containerd', 2),
        cell(c, 'unpack_cpu_snapshotter', 2),
      ]),
    ),
  );
  console.log();
}

function snapshotOps() {
  const rows = readTsv('snapshot-ops.tsv');
  if (!rows) return;
  const get = (t, op) => rows.find((r) => r.target === t && r.op === op);
  const ops = [...new Set(rows.map((r) => r.op))];
  for (const [mine, ref] of [['overlayfs-native', 'ref-overlayfs'], ['overlayfs-native-sync', 'ref-overlayfs-sync']]) {
    if (!get(mine, 'cycle') || !get(ref, 'cycle')) continue;
    console.log(`### ${mine} vs ${ref} (n = ${get(mine, 'cycle').n} per op), microseconds\n`);
    console.log(
      table(
        ['op', `${ref} median`, `${ref} p95`, `${mine} median [rep min–max]`, `${mine} p95`, 'median ratio', 'p95 ratio', '≤ 1.3×'],
        ops.map((op) => {
          const a = get(mine, op);
          const b = get(ref, op);
          const r = a.median_us / b.median_us;
          return [op, num(b.median_us, 0), num(b.p95_us, 0), `${num(a.median_us, 0)} [${num(a.rep_median_min_us, 0)}–${num(a.rep_median_max_us, 0)}]`, num(a.p95_us, 0), num(r, 2), num(a.p95_us / b.p95_us, 2), r <= 1.3 ? 'yes' : 'no'];
        }),
      ),
    );
    console.log();
  }
  const others = [...new Set(rows.map((r) => r.target))];
  console.log('### every contender, median / p95 in microseconds\n');
  console.log(table(['op', ...others], ops.map((op) => [op, ...others.map((t) => `${num(get(t, op).median_us, 0)} / ${num(get(t, op).p95_us, 0)}`)])));
  console.log();
}

function breakdown() {
  const rows = readTsv('snapshot-ops-breakdown.tsv');
  if (!rows) return;
  const layers = [...new Set(rows.map((r) => r.layer))];
  const ops = [...new Set(rows.map((r) => r.op))];
  const get = (l, op) => rows.find((r) => r.layer === l && r.op === op);
  const wire = readTsv('snapshot-ops.tsv');
  const grpc = (op) => wire?.find((r) => r.target === 'overlayfs-native' && r.op === op);
  console.log(`### in-process breakdown, no gRPC (n = ${get(layers[0], 'cycle').n} per op), median / p95 in microseconds\n`);
  console.log(
    table(
      ['op', ...layers, ...(wire ? ['overlayfs-native over gRPC (median)'] : [])],
      ops.map((op) => [op, ...layers.map((l) => `${num(get(l, op).median_us, 0)} / ${num(get(l, op).p95_us, 0)}`), ...(wire ? [grpc(op) ? num(grpc(op).median_us, 0) : '–'] : [])]),
    ),
  );
  console.log();
}

function manySnapshots() {
  const rows = readTsv('many-snapshots.tsv');
  if (!rows) return;
  const get = (c, m) => rows.find((r) => r.contender === c && r.metric === m);
  const contenders = [...new Set(rows.map((r) => r.contender))];
  const v = (c, m, d) => (get(c, m) ? num(get(c, m).median, d) : '–');
  const growth = (c) => {
    const blocks = rows
      .filter((r) => r.contender === c && r.metric.startsWith('create_ms_per_snapshot_upto_'))
      .sort((a, b) => Number(a.metric.split('_').pop()) - Number(b.metric.split('_').pop()));
    return blocks.length < 2 ? '–' : `${num(blocks[0].median, 2)} → ${num(blocks[blocks.length - 1].median, 2)}`;
  };
  const count = get(contenders[0], 'count')?.median;
  console.log(`### ${count ? Number(count).toLocaleString('en-US') : '?'} committed snapshots (List: n = ${get(contenders[0], 'list_s')?.n ?? '?'})\n`);
  console.log(
    table(
      ['contender', 'create all (s)', 'per snapshot (ms)', 'per snapshot, first → last fifth (ms)', 'List all (s): median [min–max]', 'RSS start (MiB)', 'RSS after create', 'RSS after List', 'peak RSS (VmHWM)', 'remove all + Cleanup (s)'],
      contenders.map((c) => [c, v(c, 'create_s', 1), v(c, 'create_per_snapshot_ms', 2), growth(c), get(c, 'list_s') ? range(get(c, 'list_s'), 3) : '–', v(c, 'rss_start_mib', 0), v(c, 'rss_created_mib', 0), v(c, 'rss_listed_mib', 0), v(c, 'hwm_listed_mib', 0), v(c, 'remove_s', 1)]),
    ),
  );
  console.log();
}

pullUnpack();
snapshotOps();
breakdown();
manySnapshots();
