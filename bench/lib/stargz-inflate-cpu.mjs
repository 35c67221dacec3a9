// Main-thread CPU and garbage collection of inflating + verifying a realistic member set through
// the real fetch path (`layer/fetch-chunks.js`: readRanges → inflation budget → readChunks →
// verify → deliver) from an in-memory blob: no registry, no FUSE, no disk cache, so what is left
// is the per-fetch work this part of fused does (copies, allocations, promises).
//
//   node bench/lib/stargz-inflate-cpu.mjs [--roots NEW,OLD] [--semi 2,16] [--runs 3] [--format gzip|zstd]
//
// Alternates every (dist root, --max-semi-space-size) pair RUNS times in child processes (side by
// side in one run, order reversed every other run) and prints one JSON line per child and a median
// table. Roots are built checkouts (default: this one; e.g. `--roots .,../wt-base`). Each child
// fetches the set ROUNDS times (default 3) after one warm-up round.
//
// The member set (a node_modules-like layer): 3,000 small files (0.2–60 KiB, median ~3 KiB) each
// in its own member, read in 64 KiB regions as the read path fetches them; 40 medium files
// (100 KiB–1 MiB); one 24 MiB file in 4 MiB chunks (one member each); 200 files packed 20 to a
// member (the shared-member case). Each member holds the tar padding and a header after its file.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { gzipSync, zstdCompressSync } from 'node:zlib';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const format = opt('format', 'gzip');
const here = new URL('../../', import.meta.url).pathname;

if (!args.includes('--child')) {
  const roots = opt('roots', '.').split(',').map((r) => resolve(here, r));
  const semis = opt('semi', '2').split(',');
  const runs = Number(opt('runs', '3'));
  const combos = roots.flatMap((root) => semis.map((semi) => ({ root, semi })));
  const rows = new Map(combos.map((c) => [`${c.root} semi=${c.semi}`, []]));
  for (let r = 0; r < runs; r++) {
    for (const c of r % 2 ? [...combos].reverse() : combos) {
      const flags = c.semi === 'default' ? [] : [`--max-semi-space-size=${c.semi}`];
      const res = spawnSync(process.execPath, [...flags, new URL(import.meta.url).pathname, '--child', '--root', c.root, '--format', format, '--rounds', opt('rounds', '3')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (res.status !== 0) throw new Error(`child failed (${c.root}): ${res.status}`);
      const line = JSON.parse(res.stdout.trim().split('\n').pop());
      console.log(JSON.stringify({ root: c.root, semi: c.semi, ...line }));
      rows.get(`${c.root} semi=${c.semi}`).push(line);
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\n${format}, ${runs} runs, load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('contender\tmain CPU ms/round\tGC ms/round\tscavenges/round (ms)\tmark-compacts/round\tpeak RSS MiB\tpeak young gen MiB\tinflated MiB/round');
  for (const [name, xs] of rows) {
    const m = (k) => med(xs.map((x) => x[k]));
    console.log([name, m('mainCpuMs').toFixed(0), m('gcMs').toFixed(0), `${m('scavenges').toFixed(0)} (${m('scavengeMs').toFixed(0)})`, m('markCompacts').toFixed(1), m('peakRssMiB').toFixed(0), m('peakNewSpaceMiB').toFixed(1), m('inflatedMiB').toFixed(1)].join('\t'));
  }
  process.exit(0);
}

// ---- child: one contender ----
const root = opt('root', here);
const rounds = Number(opt('rounds', '3'));
const dist = new URL(`file://${root}/dist/backends/stargz-lazy/`);
const { fetchChunks } = await import(new URL('layer/fetch-chunks.js', dist).href);
const { InflationBudget } = await import(new URL('layer/inflation-budget.js', dist).href);
const { resolveLimits } = await import(new URL('estargz/limits.js', dist).href);

const KiB = 1024;
const MiB = 1024 * KiB;
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const words = 'const function return require module exports this that value object undefined null true false async await new class extends import from default export if else for while'.split(' ');
function text(n) {
  const parts = [];
  let len = 0;
  while (len < n) {
    const w = rand() < 0.2 ? `x${Math.floor(rand() * 1e6).toString(36)}` : words[Math.floor(rand() * words.length)];
    parts.push(w);
    len += w.length + 1;
  }
  return Buffer.from(parts.join(rand() < 0.5 ? ' ' : '\n')).subarray(0, n);
}
const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const compress = format === 'zstd' ? (b) => zstdCompressSync(b) : (b) => gzipSync(b, { level: 6 });
const tail = (n) => Buffer.alloc((512 - (n % 512)) % 512 + 512, 0); // padding + the next entry's header

// Members: [{ files: Buffer[] }]; packed members hold several files back to back.
const members = [];
for (let i = 0; i < 3000; i++) members.push([text(Math.min(60 * KiB, Math.max(200, Math.round(Math.exp(8 + 1.1 * (rand() * 2 - 1) * 1.5)))))]);
for (let i = 0; i < 40; i++) members.splice(Math.floor(rand() * members.length), 0, [text(100 * KiB + Math.floor(rand() * 900 * KiB))]);
for (let i = 0; i < 10; i++) members.push(Array.from({ length: 20 }, () => text(200 + Math.floor(rand() * 3000))));
const big = text(24 * MiB);
for (let o = 0; o < big.length; o += 4 * MiB) members.push([big.subarray(o, o + 4 * MiB)]);

const parts = [];
const wantedGroups = []; // fetch batches, as the read path makes them
let offset = 0;
let region = [];
let regionStart = 0;
for (const [m, files] of members.entries()) {
  const raw = Buffer.concat(files.flatMap((f) => [f, tail(f.length)]));
  const gz = compress(raw);
  const chunks = [];
  let inner = 0;
  for (const f of files) {
    chunks.push({ chunk: { offset, compressedSize: gz.length, innerOffset: inner, chunkOffset: 0, chunkSize: f.length, chunkDigest: sha256(f) }, path: `f${m}` });
    inner += f.length + tail(f.length).length;
  }
  if (offset - regionStart >= 64 * KiB || gz.length > 64 * KiB) {
    if (region.length) wantedGroups.push(region);
    region = [];
    regionStart = offset;
  }
  region.push(...chunks);
  parts.push(gz);
  offset += gz.length;
}
if (region.length) wantedGroups.push(region);
const blobBytes = Buffer.concat(parts);
const blob = {
  digest: 'sha256:bench',
  size: blobBytes.length,
  // A fresh buffer per range, as the registry client's body reads give.
  readRanges: async (ranges) => ranges.map((r) => Buffer.from(blobBytes.subarray(r.offset, r.offset + r.length))),
};

const limits = resolveLimits({});
const budget = new InflationBudget(limits);
let gcMs = 0;
let scavenges = 0;
let scavengeMs = 0;
let markCompacts = 0;
let counting = false;
new PerformanceObserver((list) => {
  if (!counting) return;
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    if (e.detail?.kind === 1) {
      scavenges++;
      scavengeMs += e.duration;
    }
    else markCompacts++;
  }
}).observe({ entryTypes: ['gc'] });

let delivered = 0;
let failed = 0;
async function round() {
  const inflation = budget.forLayer('sha256:bench');
  // Two fetches at a time, as two FUSE reads of a container may run.
  let next = 0;
  const worker = async () => {
    while (next < wantedGroups.length) {
      const group = wantedGroups[next++];
      await fetchChunks(blob, group, {
        limits,
        format: format === 'zstd' ? 'zstd:chunked' : undefined,
        inflation,
        lane: 'foreground',
        deliver: (results) => {
          for (const [, r] of results) {
            if (r instanceof Error) failed++;
            else delivered += r.length;
          }
        },
      });
    }
  };
  await Promise.all([worker(), worker()]);
}

await round(); // warm-up: code compiled, budgets made
await new Promise((r) => setTimeout(r, 50));
delivered = 0;
counting = true;
let peakRss = 0;
let peakNewSpace = 0; // the young generation's committed memory: what --max-semi-space-size costs
const sample = () => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space') peakNewSpace = Math.max(peakNewSpace, s.physical_space_size);
};
const rssTimer = setInterval(sample, 20);
const cpu0 = process.threadCpuUsage();
const t0 = performance.now();
for (let i = 0; i < rounds; i++) await round();
const wallMs = performance.now() - t0;
const cpu = process.threadCpuUsage(cpu0);
await new Promise((r) => setTimeout(r, 50)); // late gc entries
clearInterval(rssTimer);
sample();
if (failed > 0) throw new Error(`${failed} chunks failed`);
console.log(
  JSON.stringify({
    format,
    members: members.length,
    blobMiB: +(blobBytes.length / MiB).toFixed(1),
    inflatedMiB: +(delivered / rounds / MiB).toFixed(1),
    wallMs: +(wallMs / rounds).toFixed(0),
    mainCpuMs: +((cpu.user + cpu.system) / 1000 / rounds).toFixed(0),
    gcMs: +(gcMs / rounds).toFixed(1),
    scavenges: scavenges / rounds,
    scavengeMs: +(scavengeMs / rounds).toFixed(1),
    markCompacts: markCompacts / rounds,
    peakRssMiB: +(peakRss / MiB).toFixed(0),
    peakNewSpaceMiB: +(peakNewSpace / MiB).toFixed(1),
  }),
);
