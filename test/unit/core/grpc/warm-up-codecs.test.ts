/** warmUpCodecs: every method's request and response go through their codecs, without a failure. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { snapshotsService } from '../../../../core/grpc/proto.js';
import { warmUpCodecs } from '../../../../core/grpc/warm-up-codecs.js';

describe('warmUpCodecs', () => {
  it('runs every codec of the Snapshots service once and logs nothing (a failure would be logged)', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const service = snapshotsService();
    const calls: string[] = [];
    const spied = Object.fromEntries(
      Object.entries(service).map(([name, m]) => [
        name,
        {
          ...m,
          requestSerialize: (v: never) => (calls.push(`${name} request`), m.requestSerialize(v)),
          responseSerialize: (v: never) => (calls.push(`${name} response`), m.responseSerialize(v)),
        },
      ]),
    ) as unknown as typeof service;
    warmUpCodecs(spied, log);
    expect(lines).toEqual([]);
    expect(calls).toHaveLength(Object.keys(service).length * 2);
    warmUpCodecs(spied, log); // once per process
    expect(calls).toHaveLength(Object.keys(service).length * 2);
  });
});
