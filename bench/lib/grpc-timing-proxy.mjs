#!/usr/bin/env node
// A timestamping gRPC proxy in front of a snapshotter's unix socket, for the benchmark's
// "snapshotter's own share of rpull" row: containerd talks to LISTEN, every call is passed on
// unchanged (headers, messages, trailers) to UPSTREAM over one HTTP/2 connection, and for each
// call one line goes to LOG when it ends: "START_MS\tEND_MS\tPATH\tGRPC_STATUS" (wall clock, ms
// with µs digits: when the request's headers reached the proxy, when the answer's last frame was
// passed back). It adds one hop (~0.1–0.3 ms per call) to both contenders alike; the benchmark uses
// it only for its own step, never for the other timed rows.
//
//   node grpc-timing-proxy.mjs LISTEN UPSTREAM LOG     (runs until SIGTERM)
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';

const [listen, upstream, logFile] = process.argv.slice(2);
if (!listen || !upstream || !logFile) {
  console.error('usage: grpc-timing-proxy.mjs LISTEN UPSTREAM LOG');
  process.exit(2);
}
const log = fs.openSync(logFile, 'a');
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);

let session;
function upstreamSession() {
  if (!session || session.closed || session.destroyed) {
    session = http2.connect('http://snapshotter', { createConnection: () => net.connect(upstream) });
    session.on('error', (err) => console.error(`upstream ${upstream}: ${err.message}`));
  }
  return session;
}

/** The headers of `h` to pass on: every regular one, and the pseudo-headers named in `keep`. */
function passOn(h, keep) {
  const out = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') || keep.includes(k)) out[k] = v;
  return out;
}

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const start = now();
  const path = headers[':path'];
  let status = '-';
  let trailers = {};
  const done = () => fs.writeSync(log, `${start}\t${now()}\t${path}\t${status}\n`);
  const req = upstreamSession().request(passOn(headers, [':path', ':method']), { endStream: false });
  stream.pipe(req);
  req.on('response', (h, flags) => {
    if (h['grpc-status'] !== undefined && flags & http2.constants.NGHTTP2_FLAG_END_STREAM) {
      // a trailers-only answer (an error): one HEADERS frame that ends the stream
      status = String(h['grpc-status']);
      stream.respond(passOn(h, [':status']), { endStream: true });
      return;
    }
    stream.respond(passOn(h, [':status']), { waitForTrailers: true });
    req.pipe(stream);
  });
  req.on('trailers', (t) => {
    trailers = t;
    status = String(t['grpc-status'] ?? '-');
  });
  stream.on('wantTrailers', () => stream.sendTrailers(passOn(trailers, [])));
  stream.on('close', done);
  req.on('error', (err) => stream.destroy(err));
  stream.on('error', () => req.close(http2.constants.NGHTTP2_CANCEL));
});
try {
  fs.unlinkSync(listen);
} catch {
  // not there
}
server.listen(listen);
process.on('SIGTERM', () => {
  server.close();
  session?.destroy();
  process.exit(0);
});
