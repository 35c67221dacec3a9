#!/usr/bin/env node
// Snapshot operation latency through the Snapshots gRPC API, one client for every server.
//
//   node bench/lib/op-latency.mjs --target NAME=SOCKET [--target ...] [--reps 5]
//        [--iterations 300] [--warmup 50] [--quiet-idle 0.85] --raw FILE.tsv --summary FILE.tsv
//
// Per repetition, every target in turn (order reversed on every other repetition, so drift in
// the machine's state does not favour one target): wait until the machine is quiet
// (wait-quiet.mjs; --quiet-idle 0 turns that off), `warmup` untimed cycles, then `iterations`
// timed cycles of
//   prepare(key, base) -> mounts(key) -> commit(name, key) -> remove(name)   and   stat(base)
// where `base` is a committed snapshot made once per target, so every prepare returns an
// overlay mount like a container or layer on top of an image. Keys look like containerd's
// (`<ns>/<seq>/extract-<n> sha256:<hex>`). After each repetition an untimed Cleanup removes
// what an asynchronous remove left behind, so directories do not pile up across repetitions.
// Each op is timed alone (process.hrtime.bigint, microseconds); `cycle` is the sum of the four.
// Raw samples: target, rep, op, microseconds. Summary: per target and op, the median and p95
// over all samples and the min-max of the per-repetition medians.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cleanup, connectSnapshots } from './snapshots-client.mjs';
import { max, median, min, percentile } from './stats.mjs';
import { waitQuiet } from './wait-quiet.mjs';

const OPS = ['prepare', 'mounts', 'commit', 'remove', 'cycle', 'stat'];

function usage(msg) {
  console.error(`op-latency: ${msg}\nusage: op-latency.mjs --target NAME=SOCKET ... [--reps N] [--iterations N] [--warmup N] [--quiet-idle F] --raw FILE --summary FILE`);
  process.exit(2);
}

function positiveInt(name, text) {
  if (!/^[1-9][0-9]*$/.test(text)) usage(`--${name} must be a positive integer, got "${text}"`);
  return Number(text);
}

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    reps: { type: 'string', default: '5' },
    iterations: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '50' },
    raw: { type: 'string' },
    summary: { type: 'string' },
    'quiet-idle': { type: 'string', default: '0.85' },
  },
  strict: true,
});
const reps = positiveInt('reps', values.reps);
const iterations = positiveInt('iterations', values.iterations);
const warmup = Number(values.warmup);
if (!Number.isInteger(warmup) || warmup < 0) usage(`--warmup must be a non-negative integer, got "${values.warmup}"`);
const quietIdle = Number(values['quiet-idle']);
if (!(quietIdle >= 0 && quietIdle <= 1)) usage(`--quiet-idle must be a fraction between 0 and 1, got "${values['quiet-idle']}"`);
if (!values.raw || !values.summary) usage('--raw and --summary are required');
const targets = (values.target ?? []).map((t) => {
  const eq = t.indexOf('=');
  if (eq <= 0 || eq === t.length - 1) usage(`--target must be NAME=SOCKET, got "${t}"`);
  return { name: t.slice(0, eq), socket: t.slice(eq + 1) };
});
if (targets.length === 0) usage('at least one --target is required');

const runId = `${process.pid}-${Date.now().toString(36)}`;
let seq = 0;
const nextKey = (what) => `snaphost-bench/${++seq}/${what}`;
const fakeDigest = (n) => `sha256:${createHash('sha256').update(`${runId}/${n}`).digest('hex')}`;

const now = () => process.hrtime.bigint();
const us = (from, to) => Number(to - from) / 1000;

/** One cycle plus one stat; returns the five op times in microseconds. */
async function cycle(client, base, n) {
  const digest = fakeDigest(n);
  const key = nextKey(`extract-${n} ${digest}`);
  const name = nextKey(digest);
  const t0 = now();
  const prepared = await client.prepare(key, base);
  const t1 = now();
  const mounted = await client.mounts(key);
  const t2 = now();
  await client.commit(name, key);
  const t3 = now();
  await client.remove(name);
  const t4 = now();
  await client.stat(base);
  const t5 = now();
  if (prepared.length !== 1 || mounted.length !== 1 || prepared[0].type !== mounted[0].type) {
    throw new Error(`${client.socket}: unexpected mounts ${JSON.stringify(prepared)} / ${JSON.stringify(mounted)}`);
  }
  return { prepare: us(t0, t1), mounts: us(t1, t2), commit: us(t2, t3), remove: us(t3, t4), cycle: us(t0, t4), stat: us(t4, t5) };
}

async function main() {
  const samples = []; // [target, rep, op, us]
  const clients = new Map();
  for (const t of targets) {
    const client = connectSnapshots(t.socket);
    await client.ready();
    const baseKey = nextKey(`extract-base ${fakeDigest('base')}`);
    const base = nextKey(fakeDigest('base'));
    await client.prepare(baseKey, '');
    await client.commit(base, baseKey);
    clients.set(t.name, { client, base });
  }
  let n = 0;
  for (let rep = 1; rep <= reps; rep++) {
    const order = rep % 2 ? targets : [...targets].reverse();
    for (const t of order) {
      const { client, base } = clients.get(t.name);
      if (quietIdle > 0) {
        const waited = await waitQuiet({ idle: quietIdle });
        if (waited >= 2) console.error(`[op-latency] waited ${waited.toFixed(0)}s for the machine to be quiet`);
      }
      for (let i = 0; i < warmup; i++) await cycle(client, base, ++n);
      for (let i = 0; i < iterations; i++) {
        const times = await cycle(client, base, ++n);
        for (const op of OPS) samples.push([t.name, rep, op, times[op]]);
      }
      await cleanup(client);
      const s = samples.filter((x) => x[0] === t.name && x[1] === rep && x[2] === 'cycle').map((x) => x[3]);
      console.error(`[op-latency] rep ${rep} ${t.name}: cycle median ${median(s).toFixed(0)} us`);
    }
  }
  for (const [, { client, base }] of clients) {
    await client.remove(base);
    await cleanup(client);
    client.close();
  }
  writeFileSync(values.raw, ['target\trep\top\tus', ...samples.map((s) => s.join('\t'))].join('\n') + '\n');

  const rows = [['target', 'op', 'n', 'median_us', 'p95_us', 'rep_median_min_us', 'rep_median_max_us']];
  for (const t of targets) {
    for (const op of OPS) {
      const mine = samples.filter((s) => s[0] === t.name && s[2] === op);
      const all = mine.map((s) => s[3]);
      const perRep = [];
      for (let rep = 1; rep <= reps; rep++) perRep.push(median(mine.filter((s) => s[1] === rep).map((s) => s[3])));
      rows.push([t.name, op, all.length, median(all).toFixed(1), percentile(all, 95).toFixed(1), min(perRep).toFixed(1), max(perRep).toFixed(1)]);
    }
  }
  writeFileSync(values.summary, rows.map((r) => r.join('\t')).join('\n') + '\n');
  console.log(rows.map((r) => r.join('\t')).join('\n'));
}

main().catch((err) => {
  console.error(`op-latency: ${err.stack ?? err}`);
  process.exit(1);
});
