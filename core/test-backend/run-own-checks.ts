/**
 * `snaphost test-backend --checks FILE`: the backend author's own checks, run against the
 * backend served in-process through the real gRPC adapter (`serveBackend`, a fresh instance per
 * check), reported like the contract checks (`PASS check/<name>`). FILE default-exports an
 * array of `{ name, run(client, ctx) }`, or one function `(client, ctx) => …` (one check named
 * after the file). A check passes when `run` settles without throwing.
 */
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe } from '../contract/errors.js';
import type { SnapshotsConnection } from '../grpc/snapshots-client.js';
import type { CheckResult, ContractRunOptions } from './run-contract-checks.js';
import { within } from './run-contract-checks.js';
import { serveBackend } from './serve-backend.js';
import { formatSummary, type Tally } from './summary-line.js';

export interface BackendCheckContext {
  /** The served backend's socket and root, and its instance name. */
  socket: string;
  root: string;
  name: string;
}

export interface BackendCheck {
  name: string;
  run(client: SnapshotsConnection, ctx: BackendCheckContext): unknown;
}

/** The backend as the contract checks get it (`use`, `options`, `cwd`), and the checks module. */
export interface OwnChecksOptions extends ContractRunOptions {
  /** The checks module, relative to `cwd`. */
  file: string;
}

export async function runOwnChecks(o: OwnChecksOptions): Promise<Tally> {
  const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
  const report = (name: string, status: CheckResult['status'], detail?: string) => {
    tally[status === 'pass' ? 'passed' : status === 'fail' ? 'failed' : 'skipped']++;
    o.report({ name, status, detail });
  };
  let checks: BackendCheck[];
  try {
    checks = await loadChecks(resolve(o.cwd, o.file));
  } catch (err) {
    report('load', 'fail', describe(err));
    return tally;
  }
  const ms = o.checkTimeoutMs ?? 60_000;
  for (const check of checks) {
    let served: Awaited<ReturnType<typeof serveBackend>> | undefined;
    try {
      served = await serveBackend(o.use, o.options, { cwd: o.cwd, log: o.log });
    } catch (err) {
      report(check.name, 'fail', `the backend could not be served: ${describe(err)}`);
      continue;
    }
    const { client, socket, root, name } = served;
    const failure = await within(ms, async () => {
      try {
        await check.run(client, { socket, root, name });
      } catch (err) {
        throw new Error(failureText(err), { cause: err });
      }
    });
    const closed = await within(ms, () => served.close());
    if (failure !== undefined) report(check.name, 'fail', failure);
    else if (closed !== undefined) report(check.name, 'fail', `the check passed, but closing the backend failed: ${closed}`);
    else report(check.name, 'pass');
  }
  return tally;
}

async function loadChecks(file: string): Promise<BackendCheck[]> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`cannot import ${file}: ${describe(err)}`, { cause: err });
  }
  const exported = mod.default;
  if (typeof exported === 'function') return [{ name: basename(file, extname(file)), run: exported as BackendCheck['run'] }];
  const problem = `${file}: the default export must be an array of { name, run(client, ctx) } or a function (client, ctx)`;
  if (!Array.isArray(exported) || exported.length === 0) throw new Error(`${problem}, got ${Array.isArray(exported) ? 'an empty array' : typeof exported}`);
  const names = new Set<string>();
  exported.forEach((c: unknown, i) => {
    const { name, run } = (c ?? {}) as Partial<BackendCheck>;
    if (typeof name !== 'string' || name === '' || typeof run !== 'function') throw new Error(`${problem}; checks[${i}] is not`);
    if (names.has(name)) throw new Error(`${file}: two checks are named "${name}"`);
    names.add(name);
  });
  return exported as BackendCheck[];
}

/** What a failed check threw: the error class and its message (`FailedPreconditionError: limit reached`). */
function failureText(err: unknown): string {
  if (!(err instanceof Error)) return describe(err);
  return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
}

export interface OwnChecksSection extends Omit<OwnChecksOptions, 'report'> {
  /** Whether the contract checks loaded the backend (when not, the own checks are not run). */
  loaded: boolean;
  out(line: string): void;
}

/** The `--checks` part of test-backend's report: a heading, one line per check, its tally. */
export async function ownChecksSection(o: OwnChecksSection): Promise<Tally> {
  if (!o.loaded) {
    o.out(`== your checks (${o.file}): not run (the backend did not load)`);
    return { passed: 0, failed: 0, skipped: 0 };
  }
  o.out(`== your checks: ${o.file} (the backend served in-process through gRPC)`);
  const tally = await runOwnChecks({ ...o, report: (r) => o.out(`${r.status.toUpperCase()} check/${r.name}${r.detail ? `: ${r.detail}` : ''}`) });
  o.out(`checks: ${formatSummary(tally)}`);
  return tally;
}
