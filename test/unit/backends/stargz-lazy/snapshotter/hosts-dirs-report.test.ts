/** reportHostsDirProblems: the daemon logs each broken hosts.toml at warn, naming file and key; never throws. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportHostsDirProblems } from '../../../../../backends/stargz-lazy/snapshotter/hosts-dirs-report.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hosts-report-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('reportHostsDirProblems', () => {
  it('logs a warning per broken file and counts them; missing dirs and [] are fine', async () => {
    await mkdir(join(tmp, 'reg.example'), { recursive: true });
    await writeFile(join(tmp, 'reg.example', 'hosts.toml'), '[host."https://m"]\n  skip_verify = "yes"\n  [host."https://m".header]\n    x-token = "secret-value"');
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, cb) => (lines.push(JSON.parse(c.toString()) as { level: number; msg: string }), cb()) }));
    expect(reportHostsDirProblems([tmp, join(tmp, 'missing')], log)).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.level).toBe(40);
    expect(lines[0]!.msg).toMatch(/reg\.example\/hosts\.toml: host\."https:\/\/m"\.skip_verify: expected true or false/);
    expect(JSON.stringify(lines)).not.toContain('secret-value');
    expect(reportHostsDirProblems([], log)).toBe(0);
  });
});
