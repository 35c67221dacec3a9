/** A RegistryClient for tests, with its log lines captured. */
import pino from 'pino';
import { Writable } from 'node:stream';
import { RegistryClient } from '../../../../../../backends/stargz-lazy/registry/registry-client.js';
import type { CredentialsProvider } from '../../../../../../backends/stargz-lazy/registry/credentials.js';
import type { RegistryOptionsInput } from '../../../../../../backends/stargz-lazy/registry/options.js';
import { parseReference } from '../../../../../../backends/stargz-lazy/registry/reference.js';
import type { BlobReader } from '../../../../../../backends/stargz-lazy/registry/blob-reader.js';

export interface TestClient {
  client: RegistryClient;
  logs: Record<string, unknown>[];
  blob(ref: string, digest: string, urls?: string[]): BlobReader;
}

/** Fast retries by default so failure tests stay quick. */
export function testClient(options: RegistryOptionsInput = {}, credentials?: CredentialsProvider): TestClient {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const client = new RegistryClient(
    { ...options, retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 50, totalMs: 10_000, ...options.retry } },
    // Anonymous unless given: never the docker config of the machine running the tests.
    { log, credentials: credentials ?? (() => undefined) },
  );
  return {
    client,
    logs,
    blob: (ref, digest, urls = []) => client.blob(parseReference(ref, 'test'), { digest, urls }),
  };
}

/** Deterministic pseudo-random bytes. */
export function testData(size: number, seed = 1): Buffer {
  const buf = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}
