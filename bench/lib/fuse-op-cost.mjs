#!/usr/bin/env node
// Per-operation cost of stargz-lazy's FUSE path, isolated from the registry, the cache and the
// inflater: a layer of DIRS x FILES small files (the warm-up blob of fused) is indexed in this
// process and mounted with the build's own `LayerFs` + `mountLayerFs`; file bytes come from
// memory (inflated ahead, so no fetch, no inflate, no verify is timed). Each step runs on a
// fresh mount (the kernel's caches cold) in a child process, and is timed there:
//
//   find      `find MNT`                              (lookups, getattrs, readdirs)
//   stat      lstat(2) of every file + 3 missing names each (what Node's `require` probes)
//   read      open + read(2) to the end + close of every file (async reads: the path of a miss)
//   read-sync the same with the reader's in-memory fast path (`readCached`: the path of a hit)
//   reread    every file read once, then the timed read again (the page cache kept: no read op)
//
//   node bench/lib/fuse-op-cost.mjs [--root CHECKOUT] [--rounds N] [--overlay] [--dirs D] [--files F]
// --root: the built checkout whose dist/ is measured (default: this one), so two builds can run
// side by side (`--root ../wt-base`); --overlay: each step through a read-only overlayfs view with
// the FUSE mount as its upper lower layer (as a container sees it). Needs root and /dev/fuse.
// Prints one JSON line per step and round: step, wall_ms (in the child), fused_cpu_ms (this
// process, every thread: libfuse's and the JS thread's), js_thread_ms (the JS thread alone), ops
// (FUSE operations that reached JS) and by_op (them by name; getxattr by attribute).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values: args } = parseArgs({
  options: {
    root: { type: 'string', default: new URL('../..', import.meta.url).pathname },
    rounds: { type: 'string', default: '3' },
    dirs: { type: 'string', default: '50' },
    files: { type: 'string', default: '100' },
    overlay: { type: 'boolean', default: false },
    steps: { type: 'string', default: 'find,stat,read,read-sync,reread' },
  },
});
const root = resolve(args.root);
const dist = (p) => import(pathToFileURL(join(root, 'dist', p)).href);
const { makeWarmUpBlob } = await dist('backends/stargz-lazy/fused/warm-up-blob.js');
const { openLayer } = await dist('backends/stargz-lazy/estargz/open-layer.js');
const { readChunk } = await dist('backends/stargz-lazy/estargz/chunk.js');
const { LayerFs } = await dist('backends/stargz-lazy/fs/layer-fs.js');
const { mountLayerFs } = await dist('backends/stargz-lazy/fs/fuse-mount.js');
const { default: pino } = await import(pathToFileURL(join(root, 'node_modules/pino/pino.js')).href);

const blob = makeWarmUpBlob(Number(args.dirs), Number(args.files));
const { index } = await openLayer({ size: blob.bytes.length, read: async (o, l) => blob.bytes.subarray(o, o + l) });
// Every file's bytes, inflated and verified once, ahead of the timed steps.
const contents = new Map();
for (const node of index.nodes()) {
  if (node.type !== 'reg') continue;
  const parts = [];
  for (const c of node.chunks) parts.push(await readChunk(blob.bytes.subarray(c.offset, c.offset + c.compressedSize), c));
  contents.set(node.ino, Buffer.concat(parts));
}
const slice = (node, offset, length) => contents.get(node.ino).subarray(offset, offset + length);
const asyncReader = { index, read: async (node, offset, length) => slice(node, offset, length) };
const syncReader = {
  ...asyncReader,
  readCached: (node, offset, length, target) => slice(node, offset, length).copy(target),
};

const work = mkdtempSync(join(tmpdir(), 'fopc-'));
const files = blob.files.map((f) => `/${f}`);
const listFile = join(work, 'files.txt');
writeFileSync(listFile, files.join('\n'));
const child = join(work, 'child.cjs');
writeFileSync(
  child,
  `const fs = require('fs');
const [step, top, list] = process.argv.slice(2);
const files = fs.readFileSync(list, 'utf8').split('\\n');
const buf = Buffer.allocUnsafe(1 << 17);
const t0 = process.hrtime.bigint();
let n = 0;
if (step === 'stat') {
  for (const f of files) {
    fs.lstatSync(top + f); n++;
    for (const miss of ['.js', '.json', '/index.js']) if (fs.statSync(top + f + miss, { throwIfNoEntry: false }) === undefined) n++;
  }
} else {
  for (const f of files) {
    const fd = fs.openSync(top + f, 'r');
    while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    fs.closeSync(fd); n++;
  }
}
console.log(JSON.stringify({ ms: Number(process.hrtime.bigint() - t0) / 1e6, n }));
`,
);

const log = pino({ level: 'silent' });
const run = promisify(execFile);
const results = [];
for (let round = 0; round < Number(args.rounds); round++) {
  for (const step of args.steps.split(',')) {
    const mnt = join(work, 'm');
    mkdirSync(mnt, { recursive: true });
    const fs = new LayerFs({ layer: step === 'read-sync' ? syncReader : asyncReader, digest: blob.digest, log, readTimeoutMs: 10_000 });
    let ops = 0;
    let byOp = {};
    const tick = (name, a) => {
      ops++;
      const k = name === 'getxattr' ? `getxattr ${a[1]}` : name;
      byOp[k] = (byOp[k] ?? 0) + 1;
    };
    const mount = await mountLayerFs(mnt, countingOps(fs, tick), blob.digest, { opTimeoutMs: 30_000, log });
    let top = mnt;
    let ovl;
    try {
      if (args.overlay) {
        ovl = join(work, 'o');
        const empty = join(work, 'e');
        mkdirSync(ovl, { recursive: true });
        mkdirSync(empty, { recursive: true });
        // Never a synchronous child here: the mount asks this process (statfs, lookups) and would wait forever.
        await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${mnt}:${empty}`, ovl]);
        top = ovl;
      }
      ops = 0;
      byOp = {};
      const cpu0 = process.cpuUsage();
      const js0 = jsThreadNs();
      // reread: the files read once (untimed), then again: what reaches JS the second time is
      // what the kernel did not keep (with kernel_cache: nothing but nothing).
      if (step === 'reread') {
        await runChild('read', top);
        ops = 0;
        byOp = {};
      }
      const r = await runChild(step === 'reread' ? 'read' : step, top);
      const js = jsThreadNs() - js0;
      const cpu = process.cpuUsage(cpu0);
      results.push({ step, round, wall_ms: +r.ms.toFixed(2), fused_cpu_ms: +((cpu.user + cpu.system) / 1000).toFixed(1), js_thread_ms: +(js / 1e6).toFixed(1), ops, n: r.n, by_op: byOp });
      console.log(JSON.stringify(results.at(-1)));
    } finally {
      if (top === ovl) await run('umount', [ovl]);
      await mount.unmount();
    }
  }
}
rmSync(work, { recursive: true, force: true });

/** CPU time of this process's JS (main) thread so far, ns (the scheduler's own account). */
function jsThreadNs() {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** Runs the step in a child process (this one must stay free to answer FUSE), without blocking the event loop. */
function runChild(step, top) {
  return new Promise((done, fail) => {
    const argv = step === 'find' ? ['-c', `s=$(date +%s%N); n=$(find ${top} | wc -l); e=$(date +%s%N); echo "{\\"ms\\":$(( (e-s)/1000 ))e-3,\\"n\\":$n}"`] : [child, step === 'read-sync' ? 'read' : step, top, listFile];
    execFile(step === 'find' ? 'bash' : process.execPath, argv, (err, stdout) => (err ? fail(err) : done(JSON.parse(stdout))));
  });
}

/** The same file system with every operation reaching JS counted (the count is the measurement; its cost is one increment). */
function countingOps(fs, tick) {
  const table = () => {
    const t = fs.operations();
    for (const [name, fn] of Object.entries(t)) t[name] = (...a) => (tick(name, a), fn(...a));
    return t;
  };
  return new Proxy(fs, {
    get(target, key) {
      if (key === 'operations') return table;
      const v = target[key];
      return typeof v === 'function' ? (...a) => (tick(String(key), a), v.apply(target, a)) : v;
    },
  });
}
