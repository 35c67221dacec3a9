/**
 * Shared pieces of the remote-layer tests: a captured logger, a chunk cache in a temp dir, a
 * registry-shaped blob server whose content a test can swap (tampered, clean again) and slow
 * down, and synthetic eStargz blobs (prioritized files, a landmark, multi-chunk files, chunks
 * sharing one gzip member).
 */
import pino from 'pino';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../../../core/sdk.js';
import { ChunkCache } from '../../../../../backends/stargz-lazy/cache/chunk-cache.js';
import { buildBlob, estargzFooter, sha256, tarOf, type BuiltBlob } from '../estargz/make-blob.js';
import { serveBlob, startBlobServer, type BlobServer } from '../registry/servers/blob-server.js';
import { testClient, testData, type TestClient } from '../registry/servers/test-client.js';

export type LogLine = Record<string, unknown> & { msg: string };

export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export interface TempCache {
  cache: ChunkCache;
  dir: string;
  lines: LogLine[];
  log: Logger;
  /** Another ChunkCache on the same directory (a restart). */
  reopen(memoryBytes?: number): Promise<ChunkCache>;
}

const temps: string[] = [];

export async function tempCache(memoryBytes = 0): Promise<TempCache> {
  const dir = await mkdtemp(join(tmpdir(), 'snaphost-chunk-cache-test-'));
  temps.push(dir);
  const { log, lines } = captureLog();
  const cache = await ChunkCache.open(join(dir, 'cache'), { memoryBytes, log });
  return { cache, dir: join(dir, 'cache'), lines, log, reopen: (m = 0) => ChunkCache.open(join(dir, 'cache'), { memoryBytes: m, log }) };
}

export async function removeTemps(): Promise<void> {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
}

/** A blob server whose content can be swapped, with an optional delay before each GET answers. */
export interface SwitchableServer extends BlobServer {
  /** What the server sends now (starts as the real blob). */
  content: Buffer;
  delayMs: number;
  /** GET requests so far (HEAD excluded). */
  gets(): number;
}

export async function startSwitchableServer(blob: Buffer): Promise<SwitchableServer> {
  const state = { content: blob, delayMs: 0 };
  const server = await startBlobServer(async (req, res) => {
    if (req.method === 'GET' && state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    serveBlob(req, res, state.content);
  });
  const switchable = Object.defineProperties(server, {
    content: { get: () => state.content, set: (b: Buffer) => void (state.content = b) },
    delayMs: { get: () => state.delayMs, set: (ms: number) => void (state.delayMs = ms) },
  }) as BlobServer & Pick<SwitchableServer, 'content' | 'delayMs'>;
  return Object.assign(switchable, {
    gets: () => server.requests.filter((r) => r.method === 'GET').length,
  });
}

/** A registry client pointed at `server`; `reader()` makes a BlobReader for `digest`. */
export function clientFor(server: { host: string }, digest: string, retries = 0): TestClient & { reader(): ReturnType<TestClient['blob']> } {
  const t = testClient({ retry: { retries, baseDelayMs: 10, maxDelayMs: 20, totalMs: 5000 } });
  return Object.assign(t, { reader: () => t.blob(`${server.host}/test/layer`, digest) });
}

type PrioritizedFiles = Record<'app/bin' | 'app/conf' | 'data/big' | 'data/small' | 'data/other', Buffer>;

/**
 * An eStargz blob with 2 prioritized files (`app/bin` in 3 chunks, `app/conf`), the landmark,
 * then `data/big` (5 chunks), `data/small` and `data/other`.
 */
export function prioritizedBlob(): BuiltBlob & { files: PrioritizedFiles } {
  const files: PrioritizedFiles = {
    'app/bin': testData(10_000, 11),
    'app/conf': Buffer.from('listen 8080\n'),
    'data/big': testData(20_000, 12),
    'data/small': Buffer.from('small file\n'),
    'data/other': testData(3000, 13),
  };
  const built = buildBlob([
    { name: 'app/bin', data: files['app/bin'], chunkSize: 4096 },
    { name: 'app/conf', data: files['app/conf'] },
    { name: '.prefetch.landmark', data: Buffer.from([0x0f]) },
    { name: 'data/big', data: files['data/big'], chunkSize: 4096 },
    { name: 'data/small', data: files['data/small'] },
    { name: 'data/other', data: files['data/other'] },
  ]);
  return { ...built, files };
}

/**
 * An eStargz blob where `a`, `b` and `c` share ONE gzip member (as writers that pack small
 * files do), followed by `d` in its own member.
 */
export function packedBlob(): { blob: Buffer; files: Record<'a' | 'b' | 'c' | 'd', Buffer>; tocDigest: string } {
  const files = { a: Buffer.from('alpha\n'), b: testData(5000, 21), c: Buffer.from('gamma gamma\n'), d: Buffer.from('delta\n') };
  const parts: Buffer[] = [gzipSync(Buffer.alloc(512))];
  let offset = parts[0]!.length;
  const shared = offset;
  const packed = gzipSync(Buffer.concat([files.a, files.b, files.c]));
  parts.push(packed);
  offset += packed.length;
  let inner = 0;
  const entries: Record<string, unknown>[] = [];
  for (const name of ['a', 'b', 'c'] as const) {
    const data = files[name];
    entries.push({ name, type: 'reg', size: data.length, mode: 0o644, offset: shared, innerOffset: inner, digest: sha256(data), chunkDigest: sha256(data) });
    inner += data.length;
  }
  const own = gzipSync(files.d);
  entries.push({ name: 'd', type: 'reg', size: files.d.length, mode: 0o644, offset, digest: sha256(files.d), chunkDigest: sha256(files.d) });
  parts.push(own);
  offset += own.length;
  const tocJson = Buffer.from(JSON.stringify({ version: 1, entries }));
  parts.push(gzipSync(tarOf('stargz.index.json', tocJson)), estargzFooter(offset));
  return { blob: Buffer.concat(parts), files, tocDigest: sha256(tocJson) };
}

/** `blob` with byte `at` inverted. */
export function flipped(blob: Buffer, at: number): Buffer {
  const copy = Buffer.from(blob);
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}
