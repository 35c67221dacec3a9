#!/usr/bin/env node
// A registry proxy for the lazy-pull e2e tests, on 127.0.0.1 only. It forwards every request to
// the upstream registry unchanged and counts the response body bytes of blob GETs per digest, so
// a test can tell how much of each layer a client really downloaded. On demand it flips bytes of
// one blob at chosen offsets (a tampered registry or a broken network), for verification tests.
//   node counting-proxy.mjs --upstream HOST:PORT --port-file FILE [--log FILE]
// Listens on 127.0.0.1 on a port the kernel picks and writes it to FILE once it listens.
// Admin endpoints (same port, outside the registry's /v2/ space):
//   GET  /_proxy/stats    {"requests": n, "blobs": {"sha256:…": {"requests", "bytes", "corruptBytesServed"}}}
//   POST /_proxy/reset    zero every counter
//   POST /_proxy/corrupt?digest=sha256:…&offset=N   flip (xor 0xff) the byte at blob offset N
//   POST /_proxy/swap?digest=sha256:…&with=sha256:…   answer GETs of the first blob with the bytes
//                         of the second (same repository), still labelled with the first digest
//   POST /_proxy/clean    stop corrupting and swapping
// While a blob has flips or a swap, its GETs are answered by the proxy itself from the whole
// blob (fetched once from upstream), honouring Range and multi-range requests like the registry
// does.
import http from 'node:http';
import { appendFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sendRanges } from './byte-ranges.mjs';

const { values: args } = parseArgs({
  options: { upstream: { type: 'string' }, 'port-file': { type: 'string' }, log: { type: 'string' } },
});
const upstreamMatch = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(args.upstream ?? '');
if (!upstreamMatch || !args['port-file']) {
  console.error('usage: counting-proxy.mjs --upstream 127.0.0.1:PORT --port-file FILE [--log FILE]');
  process.exit(2);
}
const upstream = { host: upstreamMatch[1].replace(/^\[|\]$/g, ''), port: Number(upstreamMatch[2]) };
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const BLOB_PATH = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/;

let requests = 0;
/** @type {Map<string, {requests: number, bytes: number, corruptBytesServed: number}>} */
let blobs = new Map();
/** @type {Map<string, Set<number>>} digest -> blob offsets to flip */
const flips = new Map();
/** @type {Map<string, string>} digest -> the digest whose bytes are served instead */
const swaps = new Map();
/** @type {Map<string, Promise<Buffer>>} whole blobs of the digests being corrupted or swapped */
const wholeBlobs = new Map();
const DIGEST = /^sha256:[a-f0-9]{64}$/;

const counter = (digest) => {
  let c = blobs.get(digest);
  if (!c) blobs.set(digest, (c = { requests: 0, bytes: 0, corruptBytesServed: 0 }));
  return c;
};

const logLine = (entry) => {
  if (args.log) appendFileSync(args.log, `${JSON.stringify({ t: new Date().toISOString(), ...entry })}\n`);
};

function admin(req, res, url) {
  const reply = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  };
  if (req.method === 'GET' && url.pathname === '/_proxy/stats') {
    return reply(200, { requests, blobs: Object.fromEntries(blobs) });
  }
  if (req.method === 'POST' && url.pathname === '/_proxy/reset') {
    requests = 0;
    blobs = new Map();
    return reply(200, { ok: true });
  }
  if (req.method === 'POST' && url.pathname === '/_proxy/corrupt') {
    const digest = url.searchParams.get('digest') ?? '';
    const offset = Number(url.searchParams.get('offset'));
    if (!/^sha256:[a-f0-9]{64}$/.test(digest) || !Number.isSafeInteger(offset) || offset < 0) {
      return reply(400, { error: 'need digest=sha256:<64 hex> and offset=<non-negative integer>' });
    }
    if (!flips.has(digest)) flips.set(digest, new Set());
    flips.get(digest).add(offset);
    logLine({ admin: 'corrupt', digest, offset });
    return reply(200, { ok: true, digest, offsets: [...flips.get(digest)] });
  }
  if (req.method === 'POST' && url.pathname === '/_proxy/swap') {
    const digest = url.searchParams.get('digest') ?? '';
    const other = url.searchParams.get('with') ?? '';
    if (!DIGEST.test(digest) || !DIGEST.test(other)) return reply(400, { error: 'need digest=sha256:<64 hex> and with=sha256:<64 hex>' });
    swaps.set(digest, other);
    wholeBlobs.delete(digest);
    logLine({ admin: 'swap', digest, with: other });
    return reply(200, { ok: true, digest, with: other });
  }
  if (req.method === 'POST' && url.pathname === '/_proxy/clean') {
    flips.clear();
    swaps.clear();
    wholeBlobs.clear();
    logLine({ admin: 'clean' });
    return reply(200, { ok: true });
  }
  return reply(404, { error: `no admin endpoint ${req.method} ${url.pathname}` });
}

/** GET the whole blob from upstream (no Range), following nothing: the local registry serves it. */
function fetchWhole(req, path = req.url) {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    delete headers.range;
    const up = http.request({ ...upstream, agent, method: 'GET', path, headers }, (ur) => {
      const chunks = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('error', reject);
      ur.on('end', () =>
        ur.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`upstream answered ${ur.statusCode}`)),
      );
    });
    up.on('error', reject);
    up.end();
  });
}

async function serveCorrupted(req, res, digest) {
  let whole = wholeBlobs.get(digest);
  const swap = swaps.get(digest);
  if (!whole) wholeBlobs.set(digest, (whole = fetchWhole(req, swap ? req.url.replace(digest, swap) : req.url)));
  let blob;
  try {
    blob = Buffer.from(await whole);
  } catch (err) {
    wholeBlobs.delete(digest);
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy: cannot fetch ${digest}: ${err.message}\n`);
    return;
  }
  const offsets = flips.get(digest) ?? new Set();
  for (const o of offsets) if (o < blob.length) blob[o] ^= 0xff;
  const { ranges, bytes } = sendRanges(res, blob, req.headers.range, { 'docker-content-digest': digest });
  const c = counter(digest);
  c.requests++;
  c.bytes += bytes;
  for (const o of offsets) if (ranges.some((r) => o >= r.start && o <= r.end)) c.corruptBytesServed++;
  logLine({ method: req.method, path: req.url, range: req.headers.range, status: res.statusCode, bytes, corrupted: offsets.size > 0, swappedWith: swap });
}

function forward(req, res, digest) {
  const up = http.request({ ...upstream, agent, method: req.method, path: req.url, headers: req.headers }, (ur) => {
    res.writeHead(ur.statusCode ?? 502, ur.headers);
    let bytes = 0;
    ur.on('data', (chunk) => {
      bytes += chunk.length;
      res.write(chunk);
    });
    ur.on('end', () => {
      res.end();
      if (digest && req.method === 'GET') {
        const c = counter(digest);
        c.requests++;
        c.bytes += bytes;
      }
      logLine({ method: req.method, path: req.url, range: req.headers.range, status: ur.statusCode, bytes });
    });
    ur.on('error', () => res.destroy());
  });
  up.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy: upstream error: ${err.message}\n`);
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://proxy');
  if (url.pathname.startsWith('/_proxy/')) return admin(req, res, url);
  requests++;
  const digest = BLOB_PATH.exec(url.pathname)?.[1];
  if (digest && req.method === 'GET' && (flips.has(digest) || swaps.has(digest))) return void serveCorrupted(req, res, digest);
  forward(req, res, digest);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  writeFileSync(args['port-file'], `${server.address().port}\n`);
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 2000).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
