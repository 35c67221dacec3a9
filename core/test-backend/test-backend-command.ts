/**
 * `snaphost test-backend <module-or-path> [--option KEY=VALUE …] [--run REGEX] [--contract-only]
 * [--checks FILE] [--containerd]`: snaphost's contract checks in-process, the author's own checks
 * (--checks), then containerd's conformance suite over the real socket, then (--containerd) a
 * real private containerd importing an image and running a container on it, then one closing line
 * `N passed, N failed, N skipped` (all added up). Exit 0 when nothing failed, 1 otherwise (bad
 * usage, 2, is core/cli/commands/test-backend.ts's).
 */
import { fallbackName } from '../loading/load-backend.js';
import { describe } from '../contract/errors.js';
import { createLogger, type Logger, type LogLevel } from '../logger.js';
import { findHarness } from './find-harness.js';
import { runConformance } from './run-conformance.js';
import { runContractChecks } from './run-contract-checks.js';
import { ownChecksSection } from './run-own-checks.js';
import { addTallies, formatSummary, type Tally } from './summary-line.js';

export interface TestBackendIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  cwd: string;
}

export interface TestBackendDeps {
  /** The in-process backend's logger (default: stderr at --log-level, `warn` when not given). */
  log?: Logger;
  /** The snaphost CLI that serves the backend for the conformance suite. */
  cliPath?: string;
  env?: NodeJS.ProcessEnv;
}

export async function runTestBackend(args: TestBackendArgs, io: TestBackendIo, deps: TestBackendDeps = {}): Promise<number> {
  const { use, optionArgs, options, run, contractOnly, checks, containerd, logLevel } = args;
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const log = deps.log ?? createLogger({ level: logLevel ?? 'warn' });

  out(`== contract checks: ${use} (in-process)`);
  const { tally: contract, name = fallbackName(use) } = await runContractChecks({
    use,
    options,
    cwd: io.cwd,
    log,
    report: (r) => out(`${r.status.toUpperCase()} contract/${r.name}${r.detail ? `: ${r.detail}` : ''}`),
  });
  out(`contract: ${formatSummary(contract)}`);
  const own: Tally = checks === undefined ? { passed: 0, failed: 0, skipped: 0 } : await ownChecksSection({ file: checks, use, options, cwd: io.cwd, log, loaded: contract.passed > 0, out });

  let conformance: Tally = { passed: 0, failed: 0, skipped: 0 };
  let containerdRun: Tally = { passed: 0, failed: 0, skipped: 0 };
  if (contractOnly) {
    out('== conformance: not run (--contract-only)');
  } else if (contract.passed === 0) {
    out('== conformance: not run (the backend did not load)');
  } else {
    out(`== containerd conformance suite: ${use} served by snaphost serve`);
    let harness: string | undefined;
    try {
      harness = findHarness(deps.env ?? process.env);
    } catch (err) {
      out(`FAIL conformance: ${describe(err)}`);
      conformance = { passed: 0, failed: 1, skipped: 0 };
    }
    if (harness !== undefined) {
      const common = { harness, use, optionArgs, name, cwd: io.cwd, cliPath: deps.cliPath, env: deps.env, write: out };
      conformance = await runConformance({ ...common, run });
      if (containerd) {
        out(`== a private containerd imports an image and runs a container on ${use}`);
        containerdRun = await runConformance({ ...common, script: 'containerd-run.sh' });
      }
    }
  }
  const total = addTallies(contract, own, conformance, containerdRun);
  out(formatSummary(total));
  return total.failed === 0 && total.passed > 0 ? 0 : 1;
}

/** The command line, checked (core/cli/commands/test-backend.ts parses it). */
export interface TestBackendArgs {
  use: string;
  optionArgs: string[];
  options: Record<string, unknown>;
  run?: string;
  contractOnly: boolean;
  checks?: string;
  /** Also let a real private containerd use the backend (test/conformance/containerd-run.sh). */
  containerd?: boolean;
  logLevel?: LogLevel;
}
