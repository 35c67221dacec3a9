#!/usr/bin/env node
// How many of snaphost's own source files run code during ONE Snapshots Prepare, in the daemon
// process (issue 14's "files a Prepare touches"), measured with V8 precise coverage rather than
// read from the imports: a file counts when a function of it (dist/core/**, dist/backends/**,
// mapped back to the .ts source) is called at least once during the measured call.
//
//   node bench/lib/files-touched.mjs [--root DIR] [--case NAME]... [--json]     (root: mounts)
//
// --root: the checkout whose BUILT dist/ is measured (default: the one this file is in; run
// `npx tsc -p tsconfig.json` there first). Cases (default: all three):
//   memory             a plain Prepare (no parent, no labels) on the `memory` backend
//   overlayfs-native   the same on `overlayfs-native`
//   stargz-lazy        a remote Prepare (the labels ctr-remote rpull sends) on `stargz-lazy`,
//                      answered ALREADY_EXISTS; its FUSE process is a stand-in that mounts a
//                      tmpfs (as the unit tests do it): fused is another process anyway, only
//                      the daemon side is counted
// Method, per case: the backend is created through its definition (dist/backends/<name>/index.js,
// `create(options, ctx)`, default options) on a fresh root in a temp dir and served through the
// real gRPC adapter on a unix socket there; the benchmarks' client (snapshots-client.mjs) in a
// CHILD process calls Prepare (its code is not the daemon's and is not counted). One warm-up
// Prepare, then Profiler.takePreciseCoverage (which resets the counts), the measured Prepare, a
// short settle (the adapter's work after the answer), and takePreciseCoverage again. Module
// loading and create() run before the reset and are not counted.
// The logger is pino at level info writing nowhere, not the daemon's createLogger (whose level
// formatter would add core/logger.ts to any call that logs at info, as the remote Prepare does).
// Not here either: the metrics observer the daemon adds when metrics are enabled.
import { execFileSync, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = fileURLToPath(import.meta.url);

// ---- the three places that know snaphost's internal layout (re-point them after a move) ------

/**
 * Serve `sn` on `socket` the way the daemon does (core/backend/run-backend.ts): the shared gRPC
 * adapter, every handler inside the backend's async scope, one grpc.Server on a unix socket.
 * Returns the server's close(graceMs).
 */
async function serveSnapshotter(root, sn, { name, socket, log }) {
  const dist = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
  const { fromSnapshotter } = await dist('core/grpc/snapshots-service.js');
  const { serveUnix } = await dist('core/grpc/serve-unix.js');
  const { CallTracker } = await dist('core/grpc/call-tracker.js');
  const { inBackend } = await dist('core/backend/backend-scope.js');
  const handlers = fromSnapshotter(sn, { backend: name, log, calls: new CallTracker() });
  const implementation = {};
  for (const [method, handler] of Object.entries(handlers)) implementation[method] = (...args) => inBackend(name, () => handler(...args));
  const server = await serveUnix({ socket, mode: 0o660, implementation, log });
  return (graceMs) => server.close(graceMs);
}

/**
 * A `stargz-lazy` instance whose FUSE process is `link` instead of the real one: what the
 * backend's `create` does (index.ts), with the unit tests' way of giving it another link
 * (test/unit/backends/stargz-lazy/remote-prepare-requests.test.ts).
 */
async function createStargzLazyWithLink(root, options, ctx, link) {
  // snapshotter/open-snapshotter.js since issue 14's split along the process line; beside index.js before.
  const moved = path.join(root, 'dist/backends/stargz-lazy/snapshotter/open-snapshotter.js');
  const file = existsSync(moved) ? moved : path.join(root, 'dist/backends/stargz-lazy/open-snapshotter.js');
  const { openSnapshotter } = await import(pathToFileURL(file).href);
  return openSnapshotter(options, ctx, () => link);
}

/**
 * The stand-in FUSE process (the FusedLink / FusedMounter interfaces of
 * backends/stargz-lazy/fused-link.ts): answers at once, mounts a tmpfs where the layer goes,
 * every layer served and available.
 */
function standInLink() {
  const mounter = {
    attached: true,
    async mount(r) {
      execFileSync('mount', ['-t', 'tmpfs', 'stand-in-layer', r.mountpoint]);
    },
    async open() {},
    async unmount(mountpoint) {
      execFileSync('umount', ['-l', mountpoint]);
    },
    async list() {
      return [];
    },
    async check(mountpoints) {
      return mountpoints.map((mountpoint) => ({ mountpoint, served: true, available: true, fetchedBytes: 0, totalBytes: 1 }));
    },
    async metrics() {
      throw Object.assign(new Error('the stand-in has no metrics'), { code: 'NOT_FOUND' });
    },
  };
  return {
    async get() {
      return mounter;
    },
    async running() {
      return mounter;
    },
    reset() {},
    async close() {},
  };
}

// ---- the cases -----------------------------------------------------------------------------------

const chain = (c) => `sha256:${c.repeat(64)}`;
/** The labels ctr-remote rpull (and containerd's unpacker) send for the bottom layer of an image. */
function remoteLabels(target, layer, above) {
  return {
    'containerd.io/snapshot.ref': target,
    'containerd.io/snapshot/remote/stargz.reference': '127.0.0.1:1/files-touched/image:esgz',
    'containerd.io/snapshot/remote/stargz.digest': layer,
    'containerd.io/snapshot/remote/stargz.layers': `${layer},${above}`,
    'containerd.io/snapshot/stargz/toc.digest': chain('f'),
  };
}

const CASES = {
  memory: {
    expect: 'OK',
    warmUp: { key: 'files-touched/warm-up', parent: '', labels: {} },
    measured: { key: 'files-touched/measured', parent: '', labels: {} },
  },
  'overlayfs-native': {
    expect: 'OK',
    warmUp: { key: 'files-touched/warm-up', parent: '', labels: {} },
    measured: { key: 'files-touched/measured', parent: '', labels: {} },
  },
  'stargz-lazy': {
    expect: 'ALREADY_EXISTS',
    // two different layers, each the bottom layer of its own pull: the measured one is checked
    // and mounted in full (nothing of the warm-up's layer is reused)
    warmUp: { key: `ns/1/extract-1 ${chain('1')}`, parent: '', labels: remoteLabels(chain('1'), chain('a'), chain('b')) },
    measured: { key: `ns/2/extract-2 ${chain('2')}`, parent: '', labels: remoteLabels(chain('2'), chain('c'), chain('d')) },
    link: standInLink,
  },
};

// ---- the client (a child process: its code is not the daemon's) ---------------------------------

async function clientMain(socket) {
  const { connectSnapshots } = await import('./snapshots-client.mjs');
  const grpc = await import('@grpc/grpc-js');
  const client = connectSnapshots(socket);
  process.on('message', (req) => {
    client.prepare(req.key, req.parent, req.labels).then(
      () => process.send({ code: 'OK' }),
      // a snaphost error class carries its code's name; anything else is grpc-js's numeric code
      (err) => process.send({ code: typeof err.code === 'string' ? err.code : (grpc.status[err.code] ?? String(err.code)), details: err.details ?? err.message }),
    );
  });
  process.on('disconnect', () => {
    client.close();
    process.exit(0);
  });
  await client.ready();
  process.send({ ready: true });
}

function startClient(socket) {
  const child = fork(HERE, ['--client', socket], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  const waiting = [];
  child.on('message', (m) => (waiting.length > 0 ? waiting.shift()(m) : replies.push(m)));
  // A client that dies answers every question left with its exit, instead of leaving them waiting.
  child.on('exit', (code, signal) => {
    const m = { code: 'CLIENT_EXITED', details: `the client process exited (${code ?? signal})` };
    for (const w of waiting.splice(0)) w(m);
    replies.push(m);
  });
  const next = () => new Promise((resolve) => (replies.length > 0 ? resolve(replies.shift()) : waiting.push(resolve)));
  return {
    ready: next,
    async prepare(req) {
      child.send(req);
      return next();
    },
    stop() {
      child.disconnect();
    },
  };
}

// ---- the measurement -----------------------------------------------------------------------------

/** Source files (relative .ts paths) of `root` with a function called since the last take. */
function filesRun(result, root) {
  const prefix = pathToFileURL(path.join(root, 'dist')).href + '/';
  const files = new Set();
  for (const script of result.result) {
    if (!script.url.startsWith(prefix)) continue;
    const rel = script.url.slice(prefix.length);
    if (!/^(core|backends)\//.test(rel) || rel.startsWith('core/grpc/generated/')) continue;
    if (script.functions.some((f) => f.ranges[0].count > 0)) files.add(rel.replace(/\.js$/, '.ts'));
  }
  return [...files].sort();
}

async function measure(root, name, session) {
  const spec = CASES[name];
  const work = await realpath(await mkdtemp(path.join(tmpdir(), 'files-touched-')));
  const backendRoot = path.join(work, 'root');
  await mkdir(backendRoot, { mode: 0o700 });
  const socket = path.join(work, 'snapshots.sock');
  const pino = (await import('pino')).default;
  const log = pino({ level: 'info', base: { pid: process.pid } }, { write() {} }).child({ backend: name });
  const definition = (await import(pathToFileURL(path.join(root, 'dist/backends', name, 'index.js')).href)).default;
  const options = definition.options.parse({});
  const ctx = { name, root: backendRoot, log, signal: new AbortController().signal };
  const sn = spec.link ? await createStargzLazyWithLink(root, options, ctx, spec.link()) : await definition.create(options, ctx);
  let close;
  const client = startClient(socket);
  try {
    close = await serveSnapshotter(root, sn, { name, socket, log });
    await client.ready();
    const warm = await client.prepare(spec.warmUp);
    if (warm.code !== spec.expect) throw new Error(`${name}: the warm-up Prepare answered ${warm.code} ${warm.details ?? ''}, expected ${spec.expect}`);
    await session.post('Profiler.takePreciseCoverage');
    const res = await client.prepare(spec.measured);
    await new Promise((r) => setTimeout(r, 20));
    const coverage = await session.post('Profiler.takePreciseCoverage');
    if (res.code !== spec.expect) throw new Error(`${name}: the measured Prepare answered ${res.code} ${res.details ?? ''}, expected ${spec.expect}`);
    return { case: name, answer: res.code, files: filesRun(coverage, root) };
  } finally {
    client.stop();
    await close?.(1000);
    await sn.close?.();
    await unmountBelow(work);
    await rm(work, { recursive: true, force: true });
  }
}

/** Lazily unmount whatever is still mounted below `dir` (deepest first). */
async function unmountBelow(dir) {
  const points = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m !== undefined && m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
  for (const m of points) execFileSync('umount', ['-l', m]);
}

async function main() {
  const { values } = parseArgs({
    options: {
      root: { type: 'string', default: path.resolve(path.dirname(HERE), '../..') },
      case: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      client: { type: 'string' },
    },
  });
  const root = path.resolve(values.root);
  if (values.client) return clientMain(values.client);
  if (!existsSync(path.join(root, 'dist/core/cli/snaphost.js')) && !existsSync(path.join(root, 'dist/core/cli.js'))) throw new Error(`${root}/dist is missing: build it (npx tsc -p tsconfig.json) first`);
  const cases = values.case ?? Object.keys(CASES);
  for (const c of cases) if (!CASES[c]) throw new Error(`unknown case ${c} (one of ${Object.keys(CASES).join(', ')})`);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });
  const results = [];
  for (const c of cases) results.push(await measure(root, c, session));
  await session.post('Profiler.stopPreciseCoverage');
  session.disconnect();
  if (values.json) {
    console.log(JSON.stringify({ root, results }, null, 2));
    return;
  }
  for (const r of results) {
    console.log(`${r.case}: ${r.files.length} files (Prepare answered ${r.answer})`);
    for (const f of r.files) console.log(`  ${f}`);
  }
}

main().catch((err) => {
  console.error(`files-touched: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
