// Time to open one eStargz layer's TOC in a fresh process, stage by stage, as fused does it
// after the TOC bytes arrived: inflate, tar, digest, JSON.parse, check, index (LayerIndex.build),
// then the first RemoteLayer.progress() (the mount's answer waits for it).
//   node bench/lib/stargz-toc-open.mjs DIST_DIR BLOB [--runs N]
// DIST_DIR: compiled output (`npx tsc -p tsconfig.json --outDir DIR`); BLOB: an eStargz layer
// blob file. Prints one line per run (run 1 is cold: fresh process, JIT cold) and a JSON line
// {cold, warm} where warm is the last run, in ms per stage.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

const [distArg, blobArg, ...rest] = process.argv.slice(2);
const runs = rest[0] === '--runs' ? Number(rest[1]) : 4;
if (!distArg || !blobArg || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: stargz-toc-open.mjs DIST_DIR BLOB [--runs N>=1]');
  process.exit(2);
}
const dist = resolve(distArg);
const load = (path) => import(pathToFileURL(join(dist, 'backends/stargz-lazy', path)).href);
const { footerFetchSize, parseFooter } = await load('estargz/footer.js');
const { tocRange } = await load('estargz/toc.js');
const { extractTocJson } = await load('estargz/toc-tar.js');
const { checkToc } = await load('estargz/toc-schema.js');
const { digestOf } = await load('estargz/digest.js');
const { LayerIndex } = await load('estargz/layer-index.js');
const { RemoteLayer } = await load('layer/remote-layer.js');

const fd = openSync(blobArg, 'r');
const size = fstatSync(fd).size;
const readAt = (offset, length) => {
  const b = Buffer.alloc(length);
  readSync(fd, b, 0, length, offset);
  return b;
};
const quiet = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
/** A cache holding nothing: progress() then walks every chunk and finds none. */
const emptyCache = { has: () => false, stats: () => ({ diskLimitBytes: 0 }) };
const blob = {
  digest: 'sha256:bench',
  size: async () => size,
  readTail: async (n) => ({ size, data: readAt(Math.max(0, size - n), Math.min(n, size)) }),
  readRanges: async (ranges) => ranges.map((r) => readAt(r.offset, r.length)),
};

const STAGES = ['inflate', 'tar', 'digest', 'parse', 'check', 'index', 'toc-total', 'progress'];
const rows = [];
let entries = 0;
let nodes = 0;
for (let run = 0; run < runs; run++) {
  const tail = footerFetchSize(size);
  const footer = parseFooter(readAt(size - tail, tail), size);
  const range = tocRange(footer, size);
  const compressed = readAt(range.offset, range.length);
  const t = [performance.now()];
  const mark = () => t.push(performance.now());
  const tar = gunzipSync(compressed);
  mark();
  const json = extractTocJson(tar);
  mark();
  digestOf(json, 'sha256');
  mark();
  const raw = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  mark();
  const toc = checkToc(raw);
  mark();
  const index = LayerIndex.build(toc, { tocOffset: footer.tocOffset });
  mark();
  entries = toc.entries.length;
  nodes = index.size;
  // progress() of a freshly opened layer (RemoteLayer.open redoes the stages above; not timed).
  const layer = await RemoteLayer.open({ blob, cache: emptyCache, log: quiet, regionBytes: 0 });
  const p0 = performance.now();
  layer.progress();
  const progressMs = performance.now() - p0;
  const ms = t.slice(1).map((v, i) => v - t[i]);
  const row = Object.fromEntries(STAGES.map((s) => [s, 0]));
  ms.forEach((v, i) => (row[STAGES[i]] = v));
  row['toc-total'] = t[t.length - 1] - t[0];
  row.progress = progressMs;
  rows.push(row);
  console.log(`run ${run + 1}: ${STAGES.map((s) => `${s} ${row[s].toFixed(1)}`).join('  ')}`);
}
closeSync(fd);
const round = (row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v.toFixed(2))]));
console.log(JSON.stringify({ entries, nodes, cold: round(rows[0]), warm: round(rows[rows.length - 1]) }));
