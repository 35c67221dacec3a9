#!/usr/bin/env node
// A registry behind token auth, the way Docker Hub does it, for the credentials e2e test, on
// 127.0.0.1 only, no dependencies. In front of a plain registry it:
//   - answers every /v2/ request without a valid token with 401 and
//     `WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service=…,scope=…`;
//   - issues tokens at GET /token to clients with the right Basic credentials (anonymous and
//     wrong ones get 401), for the scopes asked (`repository:NAME:pull`), valid --ttl seconds
//     (sent as `expires_in`); a token is good only for the repositories of its scopes;
//   - forwards authorized requests to the registry, blob GET bodies throttled to --rate
//     bytes per second per response (so that a read spans several token lifetimes).
//   node token-auth-proxy.mjs --upstream HOST:PORT --port-file FILE --log FILE \
//     --user NAME --password SECRET [--ttl SECONDS] [--rate BYTES_PER_SECOND] [--port PORT]
// (--port: listen there, e.g. again on the port of a stopped instance; default any free port)
// The log has one JSON line per event: {"t","event":"token","status","token"} for token
// requests, {"t","event":"request","method","path","status","token","bytes"} for the rest
// (`token`: a short id of the token used, null for none; `bytes`: body bytes sent).
import http from 'node:http';
import { appendFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    upstream: { type: 'string' },
    'port-file': { type: 'string' },
    port: { type: 'string', default: '0' },
    log: { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    ttl: { type: 'string', default: '2' },
    rate: { type: 'string', default: '0' },
  },
});
const upstreamMatch = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(args.upstream ?? '');
const ttl = Number(args.ttl);
const rate = Number(args.rate);
const listenPort = Number(args.port);
if (!upstreamMatch || !args['port-file'] || !args.log || !args.user || args.password === undefined || !(ttl > 0) || !(rate >= 0) || !Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535) {
  console.error('usage: token-auth-proxy.mjs --upstream 127.0.0.1:PORT --port-file FILE --log FILE --user NAME --password SECRET [--ttl S] [--rate B/S]');
  process.exit(2);
}
const upstream = { host: upstreamMatch[1], port: Number(upstreamMatch[2]) };
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const service = 'snaphost-e2e-auth';
const basic = `Basic ${Buffer.from(`${args.user}:${args.password}`).toString('base64')}`;
/** @type {Map<string, {id: string, expires: number, repos: Set<string>}>} */
const tokens = new Map();
let issued = 0;
let origin = '';

const log = (entry) => appendFileSync(args.log, `${JSON.stringify({ t: new Date().toISOString(), ...entry })}\n`);

function issueToken(req, res, url) {
  if (req.headers.authorization !== basic) {
    log({ event: 'token', status: 401, token: null, authorization: req.headers.authorization ? 'wrong' : 'none' });
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Basic realm="${service}"` });
    res.end('{"details":"bad or missing credentials"}\n');
    return;
  }
  const repos = new Set();
  for (const scope of url.searchParams.getAll('scope').flatMap((s) => s.split(' '))) {
    const m = /^repository:([^:]+):([a-z,*]+)$/.exec(scope);
    if (m && m[2].split(',').some((a) => a === 'pull' || a === '*')) repos.add(m[1]);
  }
  const token = randomBytes(24).toString('base64url');
  const id = `t${++issued}`;
  tokens.set(token, { id, expires: Date.now() + ttl * 1000, repos });
  log({ event: 'token', status: 200, token: id, scopes: [...repos] });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ token, access_token: token, expires_in: ttl, issued_at: new Date().toISOString() }));
}

/** The token of the request if it is valid for `repo` (or for /v2/ itself), else undefined. */
function authorized(req, repo) {
  const given = req.headers.authorization;
  if (!given?.startsWith('Bearer ')) return undefined;
  const t = tokens.get(given.slice(7));
  if (!t) return undefined;
  if (t.expires <= Date.now()) {
    tokens.delete(given.slice(7));
    return undefined;
  }
  if (repo !== undefined && !t.repos.has(repo)) return undefined;
  return t;
}

/** Writes `chunk` at most `rate` bytes per second (per response), honouring backpressure. */
async function throttled(res, source) {
  let sent = 0;
  const started = Date.now();
  for await (const chunk of source) {
    for (let i = 0; i < chunk.length; i += 16384) {
      if (res.destroyed) throw new Error('client went away');
      const piece = chunk.subarray(i, i + 16384);
      if (!res.write(piece)) await new Promise((r) => (res.once('drain', r), res.once('close', r)));
      sent += piece.length;
      if (rate > 0) {
        const due = started + (sent / rate) * 1000;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
  res.end();
  return sent;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/token' && req.method === 'GET') return issueToken(req, res, url);
  if (!url.pathname.startsWith('/v2/')) {
    res.writeHead(404).end();
    return;
  }
  const repo = /^\/v2\/(.+?)\/(?:blobs|manifests|tags)\//.exec(url.pathname)?.[1];
  const token = authorized(req, repo);
  if (!token) {
    log({ event: 'request', method: req.method, path: url.pathname, status: 401, token: null, range: req.headers.range ?? null });
    const scope = repo ? `,scope="repository:${repo}:pull"` : '';
    res.writeHead(401, {
      'content-type': 'application/json',
      'docker-distribution-api-version': 'registry/2.0',
      'www-authenticate': `Bearer realm="${origin}/token",service="${service}"${scope}`,
    });
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}\n');
    return;
  }
  const headers = { ...req.headers, host: `${upstream.host}:${upstream.port}` };
  delete headers.authorization;
  const up = http.request({ ...upstream, agent, method: req.method, path: req.url, headers }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    const isBlob = req.method === 'GET' && url.pathname.includes('/blobs/');
    const done = (bytes, error) =>
      log({
        event: 'request',
        method: req.method,
        path: url.pathname,
        status: upRes.statusCode,
        token: token.id,
        range: req.headers.range ?? null,
        bytes,
        ...(error ? { error } : {}),
      });
    if (isBlob) {
      // A client that stops reading (it cancelled) is not a failure of ours: logged as aborted.
      let aborted = false;
      res.once('close', () => {
        if (!res.writableFinished) {
          aborted = true;
          upRes.destroy();
        }
      });
      throttled(res, upRes).then(
        (bytes) => done(bytes),
        (err) => {
          done(-1, aborted ? 'aborted by the client' : String(err));
          res.destroy();
        },
      );
    } else {
      let bytes = 0;
      upRes.on('data', (c) => (bytes += c.length));
      upRes.on('end', () => done(bytes));
      upRes.pipe(res);
    }
  });
  up.on('error', (err) => {
    log({ event: 'request', method: req.method, path: url.pathname, status: 502, token: token.id, error: String(err) });
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});

server.listen(listenPort, '127.0.0.1', () => {
  const { port } = server.address();
  origin = `http://127.0.0.1:${port}`;
  writeFileSync(args['port-file'], `${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
