/**
 * bench/lib/ttr-timeline.mjs and ttr-targets.mjs, run as the benchmark runs them: the registry's
 * busy time is the union of overlapping requests (not their sum), the client filter keeps only
 * the asked User-Agent (empty = snaphost's), the window bounds what is counted; the targets are
 * ratios of medians against their bounds, and unmeasured images are left out.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const lib = (f: string) => fileURLToPath(new URL(`../../../../bench/lib/${f}`, import.meta.url));

function node(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8' }, (err, stdout) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout });
    });
  });
}

const line = (end: string, ms: number, bytes: number, ua: string, uri = '/v2/x/blobs/sha256:ab') =>
  JSON.stringify({
    msg: 'response completed',
    time: `2026-01-01T${end}Z`,
    'http.request.method': 'GET',
    'http.request.uri': uri,
    'http.request.useragent': ua,
    'http.response.duration': `${ms}ms`,
    'http.response.written': bytes,
  });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ttr-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ttr-timeline.mjs', () => {
  it('counts the union of overlapping requests as busy, per client, inside the window', async () => {
    const log = join(dir, 'registry.log');
    await writeFile(
      log,
      [
        line('00:00:01.000', 1000, 1000, ''), // 00:00:00–01
        line('00:00:00.500', 500, 70_000, ''), // inside the first: no extra busy time
        line('00:00:03.000', 500, 5_000_000, ''), // 02.5–03
        line('00:00:02.000', 900, 10, 'Go-http-client/1.1'), // another client
        line('00:00:02.000', 900, 10, '', '/v2/x/manifests/latest'), // not a blob
        line('00:00:09.000', 100, 10, ''), // outside the window
        'not json',
      ].join('\n'),
    );
    const r = await node([lib('ttr-timeline.mjs'), log, '00:00:00', '00:00:05', '']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('GETs 3;');
    expect(r.stdout).toContain('registry busy 1.50 s (30 %)');
    expect(r.stdout).toContain('summed request time 2.00 s');
    expect(r.stdout).toContain('at most 2 in flight');
    expect(r.stdout).toContain('<=64KiB:1 <=1MiB:1 <=4MiB:0 >4MiB:1');
    const go = await node([lib('ttr-timeline.mjs'), log, '00:00:00', '00:00:05', 'Go-http-client']);
    expect(go.stdout).toContain('GETs 1;');
  });

  it('refuses a call without a window', async () => {
    expect((await node([lib('ttr-timeline.mjs'), join(dir, 'x')])).code).toBe(2);
  });
});

describe('ttr-targets.mjs', () => {
  it('prints ratios of medians against their bounds, leaving out what was not measured', async () => {
    const tsv = join(dir, 'summary.tsv');
    const rows = [
      ['stargz-lazy', 'py.cold_s', 8],
      ['stargz-go', 'py.cold_s', 10],
      ['overlayfs', 'py.cold_s', 20],
      ['stargz-lazy', 'py.warm_s', 3],
      ['stargz-go', 'py.warm_s', 2],
    ];
    await writeFile(tsv, ['contender\tmetric\tn\tmedian\tmin\tmax', ...rows.map(([c, m, v]) => `${c}\t${m}\t1\t${v}\t${v}\t${v}`)].join('\n'));
    const r = await node([lib('ttr-targets.mjs'), tsv]);
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out).toContain('py (no landmark) cold_s / Go\t0.800\t<= 0.9\tyes');
    expect(out).toContain('py (no landmark) warm_s / Go\t1.500\t<= 0.9\tno');
    expect(out).toContain('py cold_s / overlayfs full pull\t0.400\t<= 0.5\tyes');
    expect(out.some((l) => l.startsWith('node'))).toBe(false);
  });
});
