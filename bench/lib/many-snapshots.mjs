#!/usr/bin/env node
// Many committed snapshots in one snapshotter: creation time, List time, server memory.
//
//   node bench/lib/many-snapshots.mjs --name NAME --socket SOCKET --pid PID [--count 10000]
//        [--list-reps 5] [--layers 10] [--quiet-idle 0.85] --out FILE.tsv
//
// Creates `count` committed snapshots (prepare + commit, sequentially, like an unpack) as
// chains of `layers` (each chain starts from no parent, so every mount kind is exercised and
// no chain approaches the kernel's lowerdir limit), then lists everything `list-reps` times
// (each List must return exactly `count` snapshots), then removes them all (children first)
// and runs Cleanup. The server's VmRSS and VmHWM (from /proc/PID/status) are read before,
// after creating, after listing and after removing. Waits for a quiet machine (wait-quiet.mjs)
// before creating and before each List. Appends `name<TAB>metric<TAB>value` lines to FILE:
// count, create_s, create_per_snapshot_ms, create_ms_per_snapshot_upto_<n> (per fifth of the
// run: does creating slow down as the store grows?), list_s (one per repetition), remove_s,
// rss_<stage>_mib, hwm_<stage>_mib.
import { appendFileSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { cleanup, connectSnapshots, listAll } from './snapshots-client.mjs';
import { waitQuiet } from './wait-quiet.mjs';

function usage(msg) {
  console.error(`many-snapshots: ${msg}\nusage: many-snapshots.mjs --name NAME --socket SOCKET --pid PID [--count N] [--list-reps N] [--layers N] [--quiet-idle F] --out FILE`);
  process.exit(2);
}

function positiveInt(name, text) {
  if (!/^[1-9][0-9]*$/.test(text ?? '')) usage(`--${name} must be a positive integer, got "${text}"`);
  return Number(text);
}

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    socket: { type: 'string' },
    pid: { type: 'string' },
    count: { type: 'string', default: '10000' },
    'list-reps': { type: 'string', default: '5' },
    'quiet-idle': { type: 'string', default: '0.85' },
    layers: { type: 'string', default: '10' },
    out: { type: 'string' },
  },
  strict: true,
});
if (!values.name || !values.socket || !values.out) usage('--name, --socket and --out are required');
const pid = positiveInt('pid', values.pid);
const count = positiveInt('count', values.count);
const listReps = positiveInt('list-reps', values['list-reps']);
const layers = positiveInt('layers', values.layers);
const quietIdle = Number(values['quiet-idle']);
if (!(quietIdle >= 0 && quietIdle <= 1)) usage(`--quiet-idle must be a fraction between 0 and 1, got "${values['quiet-idle']}"`);
const quiet = async () => {
  if (quietIdle === 0) return;
  const waited = await waitQuiet({ idle: quietIdle });
  if (waited >= 2) log(`waited ${waited.toFixed(0)}s for the machine to be quiet`);
};

const log = (msg) => console.error(`[many-snapshots ${values.name}] ${msg}`);
const record = (metric, value) => {
  appendFileSync(values.out, `${values.name}\t${metric}\t${value}\n`);
  log(`${metric} = ${value}`);
};
const seconds = (from) => (Number(process.hrtime.bigint() - from) / 1e9).toFixed(3);

/** VmRSS and VmHWM of the server process, in MiB. */
function memory() {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
    return Number(m[1]) / 1024;
  };
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

function recordMemory(stage) {
  const m = memory();
  record(`rss_${stage}_mib`, m.rss.toFixed(1));
  record(`hwm_${stage}_mib`, m.hwm.toFixed(1));
}

async function main() {
  const client = connectSnapshots(values.socket);
  await client.ready();
  // A probe snapshot first: containerd's own snapshotters cannot List an empty store
  // ("bucket does not exist") until something has been written.
  await client.prepare('snaphost-bench/0/probe', '');
  await client.remove('snaphost-bench/0/probe');
  const existing = await listAll(client);
  if (existing.length > 0) throw new Error(`${values.socket} already holds ${existing.length} snapshots: start from an empty store`);
  record('count', count);
  recordMemory('start');

  await quiet();
  let t = process.hrtime.bigint();
  // Per fifth of the run, ms per snapshot: shows whether creating gets slower as the store grows.
  const block = Math.max(1, Math.floor(count / 5));
  let blockStart = t;
  let parent = '';
  for (let i = 0; i < count; i++) {
    if (i % layers === 0) parent = '';
    const key = `snaphost-bench/${2 * i + 1}/extract-${i}`;
    const name = `snaphost-bench/${2 * i + 2}/sha256:${i.toString(16).padStart(64, '0')}`;
    await client.prepare(key, parent);
    await client.commit(name, key);
    parent = name;
    if ((i + 1) % block === 0) {
      const now = process.hrtime.bigint();
      record(`create_ms_per_snapshot_upto_${i + 1}`, (Number(now - blockStart) / 1e6 / block).toFixed(3));
      blockStart = now;
    }
  }
  const createS = seconds(t);
  record('create_s', createS);
  record('create_per_snapshot_ms', ((Number(createS) * 1000) / count).toFixed(3));
  recordMemory('created');

  for (let r = 0; r < listReps; r++) {
    await quiet();
    t = process.hrtime.bigint();
    const infos = await listAll(client);
    const s = seconds(t);
    if (infos.length !== count) throw new Error(`List returned ${infos.length} snapshots, expected ${count}`);
    record('list_s', s);
  }
  recordMemory('listed');

  t = process.hrtime.bigint();
  const infos = await listAll(client);
  // Every snapshot whose parent is '' starts a chain (each parent has exactly one child):
  // walk each chain to its tip, then remove from the tip back to the root.
  const byParent = new Map(infos.map((info) => [info.parent, info]));
  for (const root of infos.filter((info) => info.parent === '')) {
    const chain = [root];
    for (let next = byParent.get(root.name); next; next = byParent.get(next.name)) chain.push(next);
    for (const info of chain.reverse()) await client.remove(info.name);
  }
  await cleanup(client);
  record('remove_s', seconds(t));
  const left = await listAll(client);
  if (left.length !== 0) throw new Error(`${left.length} snapshots left after removing all`);
  recordMemory('removed');
  client.close();
}

main().catch((err) => {
  console.error(`many-snapshots: ${err.stack ?? err}`);
  process.exit(1);
});
