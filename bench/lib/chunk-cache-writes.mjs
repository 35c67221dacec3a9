// Main-thread CPU of the chunk cache's writes and disk reads, old build against new, each in a
// fresh process, alternating:
//   node bench/lib/chunk-cache-writes.mjs [--runs N] [--small N] [--large N] NAME=DIST_DIR ...
// DIST_DIR: a built checkout's dist/ (e.g. before=../wt-base/dist now=dist). Per run and build:
// `put` of N small chunks (4-64 KiB, 16 at a time, as a fetched member's chunks arrive) and of
// N large ones (4 MiB), then `get` of every chunk back from disk (a fresh cache on the same
// directory: memory empty, every file hashed once), then `get` of chunks never written (misses).
// Reported per phase: main-thread CPU (process.threadCpuUsage), event-loop utilization, wall, and
// the whole process's CPU (libuv's threads included). One JSON line per run, then a table of
// medians. The cache directory is a fresh temp dir per run, removed after it.
import { fork } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
};

if (process.env.CHUNK_CACHE_BENCH_CHILD) {
  process.send(await child(resolve(process.env.CHUNK_CACHE_BENCH_CHILD), Number(process.env.SMALL), Number(process.env.LARGE)));
  process.exit(0);
}

const runs = opt('--runs', 3);
const small = opt('--small', 5000);
const large = opt('--large', 30);
const builds = args.map((a) => {
  const m = /^([^=]+)=(.+)$/.exec(a);
  if (!m) throw new Error(`usage: chunk-cache-writes.mjs [--runs N] [--small N] [--large N] NAME=DIST_DIR ...; got ${a}`);
  return { name: m[1], dist: m[2] };
});
if (builds.length === 0) throw new Error('usage: chunk-cache-writes.mjs [--runs N] [--small N] [--large N] NAME=DIST_DIR ...');

const results = new Map(builds.map((b) => [b.name, []]));
for (let r = 0; r < runs; r++) {
  for (const b of builds) {
    const out = await new Promise((ok, fail) => {
      const p = fork(fileURLToPath(import.meta.url), [], {
        env: { ...process.env, CHUNK_CACHE_BENCH_CHILD: b.dist, SMALL: String(small), LARGE: String(large) },
      });
      let got;
      p.on('message', (m) => (got = m));
      p.on('exit', (code) => (code === 0 && got ? ok(got) : fail(new Error(`${b.name}: child exited ${code}`))));
    });
    console.log(JSON.stringify({ build: b.name, run: r + 1, ...out }));
    results.get(b.name).push(out);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`\n${small} small (4-64 KiB) + ${large} large (4 MiB) chunks, medians of ${runs} runs, ms`);
console.log(['build', 'phase', 'main-thread CPU', 'ELU', 'wall', 'process CPU'].join('\t'));
for (const [name, rs] of results) {
  for (const phase of Object.keys(rs[0])) {
    const m = (k) => median(rs.map((x) => x[phase][k]));
    console.log([name, phase, m('threadMs').toFixed(1), m('elu').toFixed(2), m('wallMs').toFixed(1), m('processMs').toFixed(1)].join('\t'));
  }
}

async function child(dist, nSmall, nLarge) {
  const { ChunkCache } = await import(pathToFileURL(join(dist, 'backends/stargz-lazy/cache/chunk-cache.js')).href);
  const noop = () => undefined;
  const log = { child: () => log, info: noop, warn: noop, debug: noop, error: noop, trace: noop, fatal: noop };
  // Distinct chunks: slices of one random buffer at distinct offsets (no 300 MiB of test data).
  const pool = randomFillSync(Buffer.allocUnsafe(8 * 1024 * 1024 + 64 * 1024));
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  const chunk = (size, i) => {
    const data = Buffer.from(pool.subarray(i % (pool.length - size), (i % (pool.length - size)) + size));
    data.writeUInt32BE(i, 0); // distinct even where two slices would meet
    return { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, data };
  };
  const smalls = Array.from({ length: nSmall }, (_, i) => chunk(4096 + (next() % (60 * 1024)), i * 977));
  const bigPool = randomFillSync(Buffer.allocUnsafe(4 * 1024 * 1024));
  const larges = Array.from({ length: nLarge }, (_, i) => {
    const data = Buffer.from(bigPool);
    data.writeUInt32BE(i + 1, 0);
    return { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, data };
  });
  const absent = Array.from({ length: nSmall }, (_, i) => `sha256:${createHash('sha256').update(`absent ${i}`).digest('hex')}`);
  const dir = await mkdtemp(join(tmpdir(), 'ccw-'));
  try {
    const out = {};
    const cache = await ChunkCache.open(dir, { memoryBytes: 8 * 1024 * 1024, log });
    out.putSmall = await measure(async () => {
      for (let i = 0; i < smalls.length; i += 16) await Promise.all(smalls.slice(i, i + 16).map((c) => cache.put(c.digest, c.data)));
    });
    out.putLarge = await measure(async () => {
      for (let i = 0; i < larges.length; i += 2) await Promise.all(larges.slice(i, i + 2).map((c) => cache.put(c.digest, c.data)));
    });
    await cache.flush();
    cache.close();
    const again = await ChunkCache.open(dir, { memoryBytes: 8 * 1024 * 1024, log });
    out.getSmall = await measure(async () => {
      for (let i = 0; i < smalls.length; i += 16) await Promise.all(smalls.slice(i, i + 16).map((c) => again.get(c.digest)));
    });
    out.getLarge = await measure(async () => {
      for (const c of larges) if ((await again.get(c.digest))?.length !== c.data.length) throw new Error('large chunk not read back');
    });
    out.miss = await measure(async () => {
      for (let i = 0; i < absent.length; i += 16) await Promise.all(absent.slice(i, i + 16).map((d) => again.get(d)));
    });
    again.close();
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function measure(run) {
  const t0 = process.threadCpuUsage();
  const p0 = process.cpuUsage();
  const e0 = performance.eventLoopUtilization();
  const w0 = performance.now();
  await run();
  const wallMs = performance.now() - w0;
  const t = process.threadCpuUsage(t0);
  const p = process.cpuUsage(p0);
  return {
    threadMs: (t.user + t.system) / 1000,
    threadSysMs: t.system / 1000,
    elu: performance.eventLoopUtilization(e0).utilization,
    wallMs,
    processMs: (p.user + p.system) / 1000,
  };
}
