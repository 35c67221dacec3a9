/**
 * Loads a backend module the way `snaphost serve --backend` does (same option parsing and
 * validation), creates an instance in a temporary root, and runs the contract checks against
 * it in-process: loading, a strict options schema, an instance with every method, the checks
 * of `contract-checks.ts`, and a `close()` that may be called twice. Everything it made
 * (mounts, directories) is gone afterwards.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeInstance } from '../backend/close-instance.js';
import { createBackend } from '../backend/create-backend.js';
import { singleBackendConfig } from '../config/load-config.js';
import type { ResolvedBackend } from '../config/resolved-config.js';
import { describe } from '../contract/errors.js';
import type { Logger } from '../logger.js';
import type { Snapshotter } from '../contract/snapshotter.js';
import { CONTRACT_CHECKS, type ContractSubject } from './contract-checks.js';
import type { Tally } from './summary-line.js';
import { unmountBelow } from './unmount-below.js';

export interface CheckResult {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  detail?: string;
}

export interface ContractRunOptions {
  /** `use`: a built-in name, a package name (resolved from `cwd`) or a file path. */
  use: string;
  /** Options as `--option` gives them (before the backend's schema). */
  options: Record<string, unknown>;
  cwd: string;
  log: Logger;
  report(result: CheckResult): void;
  /** Per check (default 60 s): a check that hangs fails instead of blocking the run. */
  checkTimeoutMs?: number;
}

/** Every check name, in order (for skipped ones and docs). */
export const CONTRACT_CHECK_NAMES = ['load', 'options-strict', 'instance-has-every-method', ...CONTRACT_CHECKS.map((c) => c.name), 'close-idempotent'];

/** A key no backend declares: its schema must refuse it (a typo in a config is an error). */
export const UNKNOWN_OPTION_PROBE = 'snaphostContractUnknownOption';

export interface ContractRun {
  tally: Tally;
  /** The loaded backend's instance name (what containerd would call the snapshotter). */
  name?: string;
}

export async function runContractChecks(o: ContractRunOptions): Promise<ContractRun> {
  const tally: Tally = { passed: 0, failed: 0, skipped: 0 };
  const done = new Set<string>();
  const report = (name: string, status: CheckResult['status'], detail?: string) => {
    done.add(name);
    tally[status === 'pass' ? 'passed' : status === 'fail' ? 'failed' : 'skipped']++;
    o.report({ name, status, detail });
  };
  const skipRest = (why: string) => {
    for (const name of CONTRACT_CHECK_NAMES) if (!done.has(name)) report(name, 'skip', why);
  };
  const tmp = await realpath(await mkdtemp(join(tmpdir(), 'snaphost-test-backend-')));
  let instance: Snapshotter | undefined;
  let closed = false;
  try {
    const backend = await load(o, tmp);
    if ('error' in backend) {
      report('load', 'fail', backend.error);
      skipRest('the backend did not load');
      return { tally };
    }
    const { definition } = backend;
    report('load', 'pass', `${definition.name} (apiVersion ${definition.apiVersion}) from ${backend.module}`);

    const probe = definition.options.safeParse({ ...o.options, [UNKNOWN_OPTION_PROBE]: true });
    if (probe.success) report('options-strict', 'fail', `the options schema accepted an unknown key "${UNKNOWN_OPTION_PROBE}": make it z.object({...}).strict() so a typo in a config is an error`);
    else report('options-strict', 'pass');

    try {
      instance = await createBackend({ name: backend.name, root: backend.root, definition, options: backend.options, log: o.log, timeoutMs: backend.timeoutMs });
      report('instance-has-every-method', 'pass');
    } catch (err) {
      report('instance-has-every-method', 'fail', describe(err));
      skipRest('no instance was created');
      return { tally, name: backend.name };
    }

    const signals = new AbortController();
    const subject: ContractSubject = { instance, call: () => ({ signal: signals.signal, log: o.log.child({ method: 'contract' }) }) };
    for (const check of CONTRACT_CHECKS) {
      const failure = await within(o.checkTimeoutMs ?? 60_000, () => check.run(subject));
      if (failure === undefined) report(check.name, 'pass');
      else report(check.name, 'fail', failure);
    }

    const first = await within(o.checkTimeoutMs ?? 60_000, () => closeInstance(instance!, backend.name, backend.timeoutMs));
    closed = first === undefined;
    const second = first === undefined ? await within(o.checkTimeoutMs ?? 60_000, () => closeInstance(instance!, backend.name, backend.timeoutMs)) : undefined;
    if (first !== undefined) report('close-idempotent', 'fail', `the first close() failed: ${first}`);
    else if (second !== undefined) report('close-idempotent', 'fail', `a second close() failed: ${second} (the host may call it again when a shutdown is interrupted)`);
    else report('close-idempotent', 'pass', typeof instance.close === 'function' ? undefined : 'no close(): nothing to release');
    signals.abort();
    return { tally, name: backend.name };
  } finally {
    if (instance && !closed) await Promise.resolve(instance.close?.()).catch(() => undefined);
    const stuck = await unmountBelow(tmp);
    if (stuck.length > 0) o.log.error({ mounts: stuck }, 'could not unmount what the backend left mounted; leaving its directory');
    else await rm(tmp, { recursive: true, force: true });
  }
}

type Loaded = Required<Pick<ResolvedBackend, 'name' | 'root' | 'definition' | 'options' | 'module'>> & { timeoutMs: number };

async function load(o: ContractRunOptions, tmp: string): Promise<Loaded | { error: string }> {
  try {
    const config = await singleBackendConfig({ backend: o.use, root: join(tmp, 'root'), socket: join(tmp, 'backend.sock'), options: o.options }, o.cwd);
    const b = config.backends[0]!;
    if (b.error || !b.definition) return { error: describe(b.error ?? new Error('no definition')) };
    return { name: b.name, root: b.root, definition: b.definition, options: b.options, module: b.module ?? b.use, timeoutMs: config.createTimeoutMs };
  } catch (err) {
    return { error: describe(err) };
  }
}

/** Runs `fn`; resolves with undefined when it succeeded, or with why it failed or hung. */
export async function within(ms: number, fn: () => Promise<unknown>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<string>((res) => {
    timer = setTimeout(() => res(`did not finish within ${ms / 1000} s (a hang: a lock held, a promise never settled?)`), ms);
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(fn)
        .then(
          () => undefined,
          (err: unknown) => describe(err),
        ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
