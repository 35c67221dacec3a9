// Peak memory of fetching N gzip-bomb chunks of one eStargz layer into the chunk cache (the
// background-fetch path: one batch). Each file is one chunk of BOMB_MIB MiB of one byte (~1/1000
// compressed), so every member is within maxChunkBytes and passes the ratio cap; what bounds
// the memory is the inflation budget. Uses dist/ (build first: npx tsc -p tsconfig.json).
//   node --expose-gc bench/lib/stargz-inflate-bombs.mjs [N=12] [BOMB_MIB=64]
// Prints one JSON line: compressed bytes, baseline and peak RSS / arrayBuffers (MiB).
// Measured on a shared 2-core VM (default limits): before the inflation budget, 12 bombs
// (783 KB compressed) peaked at 952 MiB RSS (+813 MiB; +843 MiB arrayBuffers) in 3.8 s; with
// it, 293 MiB (+153 MiB; +152 MiB arrayBuffers) in 11.6 s, and 48 bombs (3.1 MB, 3 GiB
// declared) +129 MiB RSS in 35 s: flat in the number of bombs (one 64 MiB bomb of a layer's
// background work inflates at a time, then is written and dropped).
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';

const dist = new URL('../../dist/backends/stargz-lazy/', import.meta.url);
const { RemoteLayer } = await import(new URL('layer/remote-layer.js', dist).href);
const { ChunkCache } = await import(new URL('cache/chunk-cache.js', dist).href);

const n = Number(process.argv[2] ?? 12);
const bombMiB = Number(process.argv[3] ?? 64);
const MiB = 1024 * 1024;
const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function tarOf(name, data) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\0' + '00', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512), Buffer.alloc(1024)]);
}
function footer(tocOffset) {
  const extra = Buffer.concat([Buffer.from([0x53, 0x47, 22, 0]), Buffer.from(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`, 'latin1')]);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 26, 0]), extra, Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0])]);
}

// The blob, built one bomb at a time (only its compressed bytes stay).
const parts = [gzipSync(Buffer.alloc(512))];
let offset = parts[0].length;
const entries = [];
for (let i = 0; i < n; i++) {
  const data = Buffer.alloc(bombMiB * MiB, 0x61);
  data[data.length - 1] = i; // distinct chunk digests
  const gz = gzipSync(data, { level: 9 });
  entries.push({ name: `bomb${i}`, type: 'reg', size: data.length, mode: 0o644, offset, digest: sha256(data), chunkDigest: sha256(data) });
  parts.push(gz);
  offset += gz.length;
}
const compressedBytes = offset;
const tocJson = Buffer.from(JSON.stringify({ version: 1, entries }));
parts.push(gzipSync(tarOf('stargz.index.json', tocJson)), footer(offset));
const blob = Buffer.concat(parts);
parts.length = 0;
const reader = {
  digest: sha256(blob),
  size: async () => blob.length,
  readRanges: async (ranges) => ranges.map((r) => Buffer.from(blob.subarray(r.offset, r.offset + r.length))),
};

const log = pino({ level: 'silent' });
const dir = await mkdtemp(join(tmpdir(), 'inflate-bombs-'));
try {
  const cache = await ChunkCache.open(join(dir, 'cache'), { memoryBytes: 0, log });
  const layer = await RemoteLayer.open({ blob: reader, cache, log, regionBytes: 0 });
  globalThis.gc?.();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakAb = base.arrayBuffers;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakAb = Math.max(peakAb, m.arrayBuffers);
  };
  const timer = setInterval(sample, 2);
  const started = performance.now();
  let error;
  await layer.fetchIntoCache(layer.missingChunks()).catch((err) => (error = err.message));
  const ms = performance.now() - started;
  sample();
  clearInterval(timer);
  await cache.flush?.();
  const mib = (b) => Math.round((b / MiB) * 10) / 10;
  console.log(
    JSON.stringify({
      bombs: n,
      bombMiB,
      compressedKB: Math.round(compressedBytes / 1000),
      ms: Math.round(ms),
      baseRssMiB: mib(base.rss),
      peakRssMiB: mib(peakRss),
      rssGrowthMiB: mib(peakRss - base.rss),
      peakArrayBuffersGrowthMiB: mib(peakAb - base.arrayBuffers),
      cached: layer.progress(),
      ...(error ? { error } : {}),
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
