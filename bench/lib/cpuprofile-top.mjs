#!/usr/bin/env node
// The hottest functions of a V8 CPU profile (`node --cpu-prof` writes *.cpuprofile).
//
//   node bench/lib/cpuprofile-top.mjs FILE.cpuprofile... [--top 25] [--root DIR] [--since URLPART]
//
// (a daemon writes one profile per thread: the main thread and e.g. pino's logging worker)
// --since URLPART ignores every sample before the first one with a frame whose script url
// contains URLPART (e.g. core/grpc/snapshots-service: from the first request on, so the
// daemon's start-up, module loading included, does not dilute the request path). A profile
// with no such frame is skipped.
//
// Prints two tables of functions (name, file:line relative to --root): by self time (the
// function itself was on top of the stack) and by total time (it was anywhere on the stack,
// counted once per sample even when recursive), and self time per component (npm package,
// folder of ours, node: internals, native code). Percentages are of the non-idle time, so a
// daemon that waited for requests most of the run still shows where its busy time went.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    top: { type: 'string', default: '25' },
    root: { type: 'string', default: process.cwd() },
    since: { type: 'string' },
  },
  allowPositionals: true,
  strict: true,
});
if (positionals.length === 0 || !/^[1-9][0-9]*$/.test(values.top)) {
  console.error('usage: cpuprofile-top.mjs FILE.cpuprofile... [--top N] [--root DIR] [--since URLPART]');
  process.exit(2);
}
const top = Number(values.top);

function where(frame) {
  if (!frame.url) return '';
  let file = frame.url;
  if (file.startsWith('file://')) file = relative(values.root, fileURLToPath(file));
  return `${file}:${frame.lineNumber + 1}`;
}

function report(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
    throw new Error(`${file}: not a V8 CPU profile (nodes, samples, timeDeltas)`);
  }
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fnKey = new Map(profile.nodes.map((n) => [n.id, `${n.callFrame.functionName || '(anonymous)'}\t${where(n.callFrame)}`]));

  const self = new Map();
  const total = new Map();
  let all = 0;
  let idle = 0;
  let first = 0;
  if (values.since) {
    const hit = (id) => {
      for (let at = id; at !== undefined; at = parent.get(at)) if (nodes.get(at).callFrame.url.includes(values.since)) return true;
      return false;
    };
    first = profile.samples.findIndex(hit);
    if (first < 0) {
      console.log(`\nprofile ${file}: no frame from ${values.since}; skipped`);
      return;
    }
  }
  for (let i = first; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time runs until the next sample
    const id = profile.samples[i];
    const name = nodes.get(id)?.callFrame.functionName;
    all += dt;
    if (name === '(idle)') {
      idle += dt;
      continue;
    }
    self.set(fnKey.get(id), (self.get(fnKey.get(id)) ?? 0) + dt);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = fnKey.get(at);
      if (seen.has(k) || nodes.get(at).callFrame.functionName === '(root)') continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  }
  const busy = all - idle;
  const ms = (us) => (us / 1000).toFixed(1);
  const pct = (us) => ((100 * us) / (busy || 1)).toFixed(1);

  console.log(`\nprofile ${file}${values.since ? ` (from the first sample in ${values.since})` : ''}: ${ms(all)} ms sampled, ${ms(busy)} ms busy (${((100 * busy) / (all || 1)).toFixed(1)}%), ${ms(idle)} ms idle`);
  // Self time per component: an npm package, a folder of ours, a node: module, or native code
  // (no url: syscalls such as lstat/mkdir, (garbage collector), (program)).
  const byComponent = new Map();
  for (const [k, us] of self) {
    const loc = k.split('\t')[1];
    let c = '(native / V8)';
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(loc);
    if (pkg) c = pkg[1];
    else if (loc.startsWith('node:')) c = 'node: internals';
    else if (loc) c = loc.split('/').slice(0, -1).join('/') || loc;
    byComponent.set(c, (byComponent.get(c) ?? 0) + us);
  }
  for (const [title, table] of [['self', self], ['total', total], ['component self', byComponent]]) {
    console.log(`\ntop ${top} by ${title} time (% of busy time)`);
    console.log(`${title.replace(' ', '_')}_ms\t%\t${title === 'component self' ? 'component' : 'function\tlocation'}`);
    for (const [k, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(us)}\t${pct(us)}\t${k}`);
  }
}

for (const file of positionals) report(file);
