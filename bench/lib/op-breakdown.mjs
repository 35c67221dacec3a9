#!/usr/bin/env node
// Where the time of one snapshot op goes, measured in-process (no gRPC), from the built
// snaphost (dist/core/sdk-overlay.js, the package entry 'snaphost/overlay'):
//
//   node bench/lib/op-breakdown.mjs --dir DIR [--reps 5] [--iterations 300] [--warmup 50]
//        --summary FILE.tsv
//
// Layers, each running the same cycle as op-latency.mjs (prepare on a committed parent,
// mounts, commit, remove, then stat of the parent), alternating per repetition:
//   memory-store    MemoryMetaStore transactions only (the shared transaction code, no I/O)
//   lmdb-store      LmdbMetaStore transactions only (+ LMDB commit and fsync, no directories)
//   overlay-memory  createOverlaySnapshotter on MemoryMetaStore in DIR (+ directories, no LMDB)
//   overlay-lmdb    createOverlaySnapshotter on LmdbMetaStore in DIR = overlayfs-native minus gRPC
// (asyncRemove true, as overlayfs-native's default). Differences between layers, and against
// op-latency.mjs's numbers for overlayfs-native over its socket, split an op's latency into
// transaction logic, LMDB, file-system work and the gRPC adapter + transport.
// Summary TSV: layer, op, n, median_us, p95_us.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { median, percentile } from './stats.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const sdk = await import(pathToFileURL(join(repo, 'dist/core/sdk-overlay.js')).href);
const { createLogger } = await import(pathToFileURL(join(repo, 'dist/core/logger.js')).href);

function usage(msg) {
  console.error(`op-breakdown: ${msg}\nusage: op-breakdown.mjs --dir DIR [--reps N] [--iterations N] [--warmup N] --summary FILE`);
  process.exit(2);
}
const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    reps: { type: 'string', default: '5' },
    iterations: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '50' },
    summary: { type: 'string' },
  },
  strict: true,
});
for (const k of ['reps', 'iterations']) if (!/^[1-9][0-9]*$/.test(values[k])) usage(`--${k} must be a positive integer`);
if (!/^[0-9]+$/.test(values.warmup)) usage('--warmup must be a non-negative integer');
if (!values.dir || !values.summary) usage('--dir and --summary are required');
const reps = Number(values.reps);
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);
const dir = resolve(values.dir);

const log = createLogger({ level: 'silent' });
const call = () => ({ signal: new AbortController().signal, log });
const now = () => process.hrtime.bigint();
const us = (a, b) => Number(b - a) / 1000;
const EMPTY = { size: 0, inodes: 0 };

/** Store-only layer: the same transactions the overlay snapshotter runs, without directories. */
function storeLayer(store) {
  return {
    prepare: (key, parent) => store.write((tx) => tx.create('active', key, parent, {})),
    mounts: (key) => store.read((tx) => tx.getSnapshot(key)),
    commit: (name, key) => store.write((tx) => { tx.getInfo(key); tx.commit(key, name, EMPTY, {}); }),
    remove: (key) => store.write((tx) => tx.remove(key)),
    stat: (key) => store.read((tx) => tx.getInfo(key)),
    close: () => store.close(),
  };
}

/** Overlay snapshotter layer: what a backend does for each RPC. */
function overlayLayer(store, root) {
  mkdirSync(join(root, 'snapshots'), { recursive: true, mode: 0o700 });
  const sn = sdk.createOverlaySnapshotter({ store, dir: root, log, asyncRemove: true });
  return {
    prepare: (key, parent) => sn.prepare(key, parent, {}, call()),
    mounts: (key) => sn.mounts(key, call()),
    commit: (name, key) => sn.commit(name, key, {}, call()),
    remove: (key) => sn.remove(key, call()),
    stat: (key) => sn.stat(key, call()),
    cleanup: () => sn.cleanup(call()),
    close: () => sn.close(),
  };
}

let seq = 0;
async function cycle(layer, base) {
  const key = `snaphost-bench/${++seq}/extract-${seq} sha256:${seq.toString(16).padStart(64, '0')}`;
  const name = `snaphost-bench/${++seq}/sha256:${seq.toString(16).padStart(64, '0')}`;
  const t0 = now();
  await layer.prepare(key, base);
  const t1 = now();
  await layer.mounts(key);
  const t2 = now();
  await layer.commit(name, key);
  const t3 = now();
  await layer.remove(name);
  const t4 = now();
  await layer.stat(base);
  const t5 = now();
  return { prepare: us(t0, t1), mounts: us(t1, t2), commit: us(t2, t3), remove: us(t3, t4), cycle: us(t0, t4), stat: us(t4, t5) };
}

async function main() {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const layers = [
    ['memory-store', storeLayer(new sdk.MemoryMetaStore())],
    ['lmdb-store', storeLayer(await sdk.LmdbMetaStore.open(join(dir, 'lmdb-store')))],
    ['overlay-memory', overlayLayer(new sdk.MemoryMetaStore(), join(dir, 'overlay-memory'))],
    ['overlay-lmdb', overlayLayer(await sdk.LmdbMetaStore.open(join(dir, 'overlay-lmdb', 'metadata')), join(dir, 'overlay-lmdb'))],
  ];
  const bases = new Map();
  for (const [name, layer] of layers) {
    await layer.prepare('snaphost-bench/0/base-active', '');
    await layer.commit('snaphost-bench/0/base', 'snaphost-bench/0/base-active');
    bases.set(name, 'snaphost-bench/0/base');
  }
  const samples = new Map(); // "layer\top" -> us[]
  for (let rep = 1; rep <= reps; rep++) {
    const order = rep % 2 ? layers : [...layers].reverse();
    for (const [name, layer] of order) {
      for (let i = 0; i < warmup; i++) await cycle(layer, bases.get(name));
      for (let i = 0; i < iterations; i++) {
        for (const [op, t] of Object.entries(await cycle(layer, bases.get(name)))) {
          const k = `${name}\t${op}`;
          if (!samples.has(k)) samples.set(k, []);
          samples.get(k).push(t);
        }
      }
      if (layer.cleanup) await layer.cleanup();
    }
    console.error(`[op-breakdown] rep ${rep} done`);
  }
  for (const [, layer] of layers) await layer.close();
  rmSync(dir, { recursive: true, force: true });
  const rows = [['layer', 'op', 'n', 'median_us', 'p95_us']];
  for (const [k, v] of samples) rows.push([...k.split('\t'), v.length, median(v).toFixed(1), percentile(v, 95).toFixed(1)]);
  writeFileSync(values.summary, rows.map((r) => r.join('\t')).join('\n') + '\n');
  console.log(rows.map((r) => r.join('\t')).join('\n'));
}

main().catch((err) => {
  console.error(`op-breakdown: ${err.stack ?? err}`);
  process.exit(1);
});
