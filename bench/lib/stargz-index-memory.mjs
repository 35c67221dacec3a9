// JS heap held by the in-memory index of lazily mounted eStargz layers (what fused keeps per
// mounted layer), and the time to verify+parse a TOC and build the index, on synthetic TOCs
// shaped like real image layers (files in nested directories, modes, owners, times, one chunk
// per small file, 4 MiB chunks for large ones).
//   node --expose-gc bench/lib/stargz-index-memory.mjs [--layers N] [--entries N] [--from DIR]
//        [--blobs DIR]
// --from: a directory of compiled estargz modules (default: dist/backends/stargz-lazy/estargz).
// --blobs: index the real TOCs of the eStargz blobs in DIR (e.g. an OCI layout's blobs/sha256,
//   other blobs are skipped) instead of synthetic ones (--layers/--entries are then ignored).
// Prints one JSON line: bytes held per layer and per node (JS heap + external: typed arrays and
// Buffers), RSS growth, parse and build ms (medians).
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const layers = Number(args.layers ?? 10);
const entriesPerLayer = Number(args.entries ?? 5000);
const from = args.from ?? fileURLToPath(new URL('../../dist/backends/stargz-lazy/estargz/', import.meta.url));
if (!Number.isInteger(layers) || layers < 1 || !Number.isInteger(entriesPerLayer) || entriesPerLayer < 10) {
  console.error('usage: stargz-index-memory.mjs [--layers N>=1] [--entries N>=10] [--from DIR]');
  process.exit(2);
}
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const load = (m) => import(pathToFileURL(`${from.replace(/\/?$/, '/')}${m}.js`).href);
const { parseToc, tocRange } = await load('toc');
const { parseFooter, footerFetchSize } = await load('footer');
const { LayerIndex } = await load('layer-index');

const hex = (s) => createHash('sha256').update(s).digest('hex');

/** A TOC of `n` entries for layer `l`: ~1 directory per 20 files, 3 levels deep, 2 % large files. */
function tocOf(l, n) {
  const entries = [];
  let offset = 0;
  const dirs = [];
  const modtime = '2024-01-01T00:00:00Z';
  for (let i = 0; entries.length < n; i++) {
    if (i % 20 === 0) {
      const d = `usr/lib/layer${l}/pkg${Math.floor(i / 400)}/mod${Math.floor(i / 20)}/`;
      for (const part of [`usr/`, `usr/lib/`, `usr/lib/layer${l}/`, `usr/lib/layer${l}/pkg${Math.floor(i / 400)}/`, d]) {
        if (dirs.includes(part)) continue;
        dirs.push(part);
        entries.push({ name: part, type: 'dir', modtime, mode: 0o755, uid: 0, gid: 0, userName: 'root', groupName: 'root' });
      }
    }
    const dir = dirs[dirs.length - 1];
    const large = i % 50 === 49;
    const size = large ? 10 * 1024 * 1024 : 64 + ((i * 7919) % 8000);
    const name = `${dir}file_${i.toString(36)}_${large ? 'blob.so' : 'source.py'}`;
    const digest = `sha256:${hex(`${l}/${i}`)}`;
    const chunk = 4 * 1024 * 1024;
    entries.push({ name, type: 'reg', size, modtime, mode: 0o644, uid: 0, gid: 0, digest, offset, chunkSize: large ? chunk : undefined, chunkDigest: `sha256:${hex(`${l}/${i}/0`)}` });
    offset += Math.ceil(Math.min(size, chunk) / 2) + 60;
    if (large) {
      for (let c = chunk; c < size; c += chunk) {
        entries.push({ name, type: 'chunk', offset, chunkOffset: c, chunkSize: Math.min(chunk, size - c), chunkDigest: `sha256:${hex(`${l}/${i}/${c}`)}` });
        offset += chunk / 2;
      }
    }
  }
  return { json: Buffer.from(JSON.stringify({ version: 1, entries })), tocOffset: offset + 100 };
}

/** The TOC member as it sits in a blob: a gzip'd tar holding stargz.index.json. */
function tocMember(json) {
  const header = Buffer.alloc(512);
  header.write('stargz.index.json', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${json.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (json.length % 512)) % 512);
  return gzipSync(Buffer.concat([header, json, pad, Buffer.alloc(1024)]));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const heap = () => {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  // Typed arrays and Buffers live outside the JS heap (arrayBuffers is part of external).
  return m.heapUsed + m.external;
};

/** The TOC members of the eStargz blobs in `dir` (blobs that are not eStargz are skipped). */
function tocsOfBlobs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const blob = readFileSync(join(dir, name));
    try {
      const footer = parseFooter(blob.subarray(blob.length - footerFetchSize(blob.length)), blob.length);
      const range = tocRange(footer, blob.length);
      out.push({ member: blob.subarray(range.offset, range.offset + range.length), tocOffset: footer.tocOffset, jsonBytes: 0 });
    } catch {
      // not an eStargz layer (a config, a manifest)
    }
  }
  return out;
}

const tocs = [];
if (args.blobs) tocs.push(...tocsOfBlobs(args.blobs));
else {
  for (let l = 0; l < layers; l++) {
    const { json, tocOffset } = tocOf(l, entriesPerLayer);
    tocs.push({ member: tocMember(json), tocOffset, jsonBytes: json.length });
  }
}
if (tocs.length === 0) {
  console.error(`no eStargz blob in ${args.blobs}`);
  process.exit(2);
}
const before = heap();
const rssBefore = process.memoryUsage().rss;
const held = [];
const parseMs = [];
const buildMs = [];
let nodes = 0;
for (const t of tocs) {
  let s = performance.now();
  const { toc } = await parseToc(t.member);
  parseMs.push(performance.now() - s);
  s = performance.now();
  const index = LayerIndex.build(toc, { tocOffset: t.tocOffset });
  buildMs.push(performance.now() - s);
  nodes += index.size;
  held.push(index);
}
const after = heap();
const rssAfter = process.memoryUsage().rss;
console.log(
  JSON.stringify({
    layers: tocs.length,
    entriesPerLayer: Math.round(nodes / tocs.length),
    nodes,
    ...(args.blobs ? {} : { tocJsonBytesPerLayer: Math.round(tocs.reduce((a, t) => a + t.jsonBytes, 0) / tocs.length) }),
    heapBytesPerLayer: Math.round((after - before) / tocs.length),
    heapBytesPerNode: Math.round((after - before) / nodes),
    rssGrowthMiB: +((rssAfter - rssBefore) / 1048576).toFixed(1),
    parseMs: +median(parseMs).toFixed(1),
    buildMs: +median(buildMs).toFixed(1),
    held: held.length,
  }),
);
