/**
 * Runs containerd's snapshotter suite (the harness in test/conformance, see its README)
 * against a backend served by this snaphost's own CLI:
 * `exec node cli.js serve --backend USE --root {root} --socket {socket} [--option K=V …]`,
 * one fresh server per test. The harness's output is passed through, except its section of
 * failed tests' whole output: each failed test's name and failure lines instead, and where
 * the full output is (conformance-failures.ts); its summary line is relabelled
 * `conformance: …` so the caller's total stays the last such line.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isPathSpecifier } from '../loading/load-backend.js';
import { ConformanceFailureFilter } from './conformance-failures.js';
import { parseSummaryLine, formatSummary, type Tally } from './summary-line.js';

export interface ConformanceOptions {
  /** The test/conformance directory (`findHarness()`). */
  harness: string;
  /** `use` as given; a relative path is made absolute against `cwd`. */
  use: string;
  /** The raw `--option KEY=VALUE` arguments, passed on to `serve` unchanged. */
  optionArgs: readonly string[];
  /** The snapshotter name the proxy sends (the backend's instance name). */
  name: string;
  /** A `go test -run` pattern (`/Basic`, `TestSnapshotterSuite/Update`, `TestExtras`). */
  run?: string;
  cwd: string;
  /** The snaphost CLI to serve with (default: the one next to this module). */
  cliPath?: string;
  write(line: string): void;
  env?: NodeJS.ProcessEnv;
  /**
   * Which of the harness's scripts: `run.sh` (containerd's suite, the default) or
   * `containerd-run.sh` (a real private containerd imports an image and runs a container on the
   * backend, then GC removes every snapshot; `run` does not apply).
   */
  script?: 'run.sh' | 'containerd-run.sh';
}

/** The built CLI that belongs to this module: `dist/core/cli/snaphost.js` (also when running from the TypeScript sources). */
export function defaultCliPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const sibling = join(here, '..', 'cli', 'snaphost.js');
  return existsSync(sibling) ? sibling : join(here, '..', '..', 'dist', 'core', 'cli', 'snaphost.js');
}

/** `'…'`-quoting for sh. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export function serveCommand(o: Pick<ConformanceOptions, 'use' | 'optionArgs' | 'cwd' | 'cliPath'>): string {
  const use = isPathSpecifier(o.use) ? join(o.cwd, o.use) : o.use;
  const cli = o.cliPath ?? defaultCliPath();
  const args = [process.execPath, cli, 'serve', '--backend', use].map(shellQuote);
  // {root} and {socket} are filled in, shell-quoted, by the harness for each test.
  args.push('--root', '{root}', '--socket', '{socket}');
  for (const opt of o.optionArgs) args.push('--option', shellQuote(opt));
  return `exec ${args.join(' ')}`;
}

export async function runConformance(o: ConformanceOptions): Promise<Tally> {
  const script = o.script ?? 'run.sh';
  const label = script === 'run.sh' ? 'conformance' : 'containerd-run';
  const cli = o.cliPath ?? defaultCliPath();
  if (!existsSync(cli)) {
    o.write(`FAIL ${label}: the snaphost CLI ${cli} does not exist (from a source checkout: npm run build)`);
    return { passed: 0, failed: 1, skipped: 0 };
  }
  const args = [join(o.harness, script)];
  if (o.run !== undefined && script === 'run.sh') args.push('-run', o.run);
  const env = { ...(o.env ?? process.env), SNAPSHOTTER_CMD: serveCommand({ ...o, cliPath: cli }), SNAPSHOTTER_NAME: o.name };
  const child = spawn('bash', args, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let summary: Tally | undefined;
  const failures = new ConformanceFailureFilter();
  const pipe = (stream: NodeJS.ReadableStream, hold: boolean) =>
    new Promise<void>((res) => {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (harnessLine) => {
        for (const line of failures.push(harnessLine, { hold })) {
          const t = parseSummaryLine(line);
          if (t) summary = t;
          o.write(t ? `${label}: ${formatSummary(t)}` : line);
        }
      });
      lines.on('close', res);
    });
  const exited = new Promise<number>((res) => {
    child.on('error', (err) => {
      o.write(`FAIL ${label}: cannot run bash ${args.join(' ')}: ${err.message}`);
      res(127);
    });
    child.on('close', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
  const [code] = await Promise.all([exited, pipe(child.stdout, true), pipe(child.stderr, false)]);
  for (const line of failures.flush()) o.write(line);
  const tally = summary ?? { passed: 0, failed: 0, skipped: 0 };
  // A harness that failed without counting a failure (not root, build error, no test ran) is one.
  if ((code !== 0 && tally.failed === 0) || summary === undefined) {
    if (summary === undefined) o.write(`FAIL ${label}: the harness exited ${code} without a summary line`);
    return { ...tally, failed: tally.failed + 1 };
  }
  return tally;
}
