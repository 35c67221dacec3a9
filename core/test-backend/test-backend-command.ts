/**
 * `snaphost test-backend <module-or-path> [--option KEY=VALUE …] [--run REGEX] [--contract-only]
 * [--checks FILE]`: snaphost's contract checks in-process, the author's own checks (--checks),
 * then containerd's conformance suite over the real socket, then one closing line `N passed, N failed, N skipped` (both added up). Exit 0 when
 * nothing failed, 1 otherwise, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { fallbackName } from '../backend/load-backend.js';
import { OptionArgError, parseOptionArgs } from '../config/option-args.js';
import { describe } from '../contract/errors.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../logger.js';
import { findHarness } from './find-harness.js';
import { runConformance } from './run-conformance.js';
import { runContractChecks } from './run-contract-checks.js';
import { ownChecksSection } from './run-own-checks.js';
import { addTallies, formatSummary, type Tally } from './summary-line.js';

export const TEST_BACKEND_USAGE = `  snaphost test-backend MODULE [--option KEY=VALUE ...] [--run REGEX] [--contract-only] [--checks FILE] [--log-level LEVEL]
      Test a backend module (built-in name, package name or file path): snaphost's contract
      checks in-process, then containerd's snapshotter conformance suite against it served by
      'snaphost serve --backend MODULE' (as root; installs Go and containerd's sources with
      apt-get when missing). --run selects conformance tests (go test -run syntax: '/Basic',
      'TestSnapshotterSuite/Update', 'TestExtras'). --checks runs your own checks too: FILE
      default-exports [{ name, run(client, ctx) }] (client: snaphost/testing's Snapshots client
      on the backend served in-process). Ends with "N passed, N failed, N skipped".
`;

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

export async function testBackendCommand(argv: readonly string[], io: TestBackendIo, deps: TestBackendDeps = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    io.stderr.write(`snaphost test-backend: ${describe(err)}\n\nUsage:\n${TEST_BACKEND_USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    io.stdout.write(`Usage:\n${TEST_BACKEND_USAGE}`);
    return 0;
  }
  const { use, optionArgs, options, run, contractOnly, checks, logLevel } = parsed;
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
      conformance = await runConformance({ harness, use, optionArgs, name, run, cwd: io.cwd, cliPath: deps.cliPath, env: deps.env, write: out });
    }
  }
  const total = addTallies(contract, own, conformance);
  out(formatSummary(total));
  return total.failed === 0 && total.passed > 0 ? 0 : 1;
}

interface Parsed {
  use: string;
  optionArgs: string[];
  options: Record<string, unknown>;
  run?: string;
  contractOnly: boolean;
  checks?: string;
  logLevel?: LogLevel;
}

function parseCommandLine(argv: readonly string[]): Parsed | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      option: { type: 'string', multiple: true },
      run: { type: 'string' },
      'contract-only': { type: 'boolean' },
      checks: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return 'help';
  if (positionals.length !== 1 || positionals[0] === '') throw new Error(positionals.length === 0 ? 'MODULE is missing' : `one MODULE expected, got ${positionals.length}: ${positionals.join(' ')}`);
  if (values.run !== undefined) {
    try {
      new RegExp(values.run);
    } catch (err) {
      throw new Error(`--run: ${describe(err)}`);
    }
  }
  const level = values['log-level'];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const optionArgs = values.option ?? [];
  let options: Record<string, unknown>;
  try {
    options = parseOptionArgs(optionArgs);
  } catch (err) {
    if (err instanceof OptionArgError) throw new Error(err.message);
    throw err;
  }
  return { use: positionals[0]!, optionArgs, options, run: values.run, contractOnly: values['contract-only'] ?? false, checks: values.checks, logLevel: level as LogLevel | undefined };
}
