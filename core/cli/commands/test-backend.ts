/** `snaphost test-backend MODULE`: the command line of core/test-backend/test-backend-command.ts. */
import { OptionArgError, parseOptionArgs } from '../../config/option-args.js';
import { describe } from '../../contract/errors.js';
import { runTestBackend, type TestBackendDeps } from '../../test-backend/test-backend-command.js';
import { defineCommand } from '../command.js';
import { UsageError } from '../parse-command-line.js';

/** The command; `deps` replace what it finds itself (tests: a silent logger, another CLI, env). */
export function testBackendCommand(deps: TestBackendDeps = {}) {
  return defineCommand({
    name: 'test-backend',
    usage: `  snaphost test-backend MODULE [--option KEY=VALUE ...] [--run REGEX] [--contract-only] [--checks FILE] [--containerd] [--log-level LEVEL]
      Test a backend module (built-in name, package name or file path): snaphost's contract
      checks in-process, then containerd's snapshotter conformance suite against it served by
      'snaphost serve --backend MODULE' (as root; installs Go and containerd's sources with
      apt-get when missing). --run selects conformance tests (go test -run syntax: '/Basic',
      'TestSnapshotterSuite/Update', 'TestExtras'). --checks runs your own checks too: FILE
      default-exports [{ name, run(client, ctx) }] (client: snaphost/testing's Snapshots client
      on the backend served in-process). --containerd also lets a real private containerd
      (the one on PATH, or $CONTAINERD) import a two-layer image and run a container on the
      backend, then remove the image so that its GC removes every snapshot (as root; installs
      containerd, runc and busybox-static with apt-get when missing). Ends with
      "N passed, N failed, N skipped".
`,
    options: { option: { type: 'string', multiple: true }, run: { type: 'string' }, 'contract-only': { type: 'boolean' }, checks: { type: 'string' }, containerd: { type: 'boolean' } },
    positionals: true,
    messages: 'named',
    run({ values, positionals, logLevel }, io) {
      if (positionals.length !== 1 || positionals[0] === '') {
        throw new UsageError(positionals.length === 0 ? 'MODULE is missing' : `one MODULE expected, got ${positionals.length}: ${positionals.join(' ')}`);
      }
      if (values.run !== undefined) {
        try {
          new RegExp(values.run);
        } catch (err) {
          throw new UsageError(`--run: ${describe(err)}`);
        }
      }
      const optionArgs = values.option ?? [];
      let options: Record<string, unknown>;
      try {
        options = parseOptionArgs(optionArgs);
      } catch (err) {
        if (err instanceof OptionArgError) throw new UsageError(err.message);
        throw err;
      }
      return runTestBackend({ use: positionals[0]!, optionArgs, options, run: values.run, contractOnly: values['contract-only'] ?? false, checks: values.checks, containerd: values.containerd ?? false, logLevel }, io, deps);
    },
  });
}
