/** `snaphost wait-ready`: wait until every backend's socket accepts connections (systemd's ExecStartPost). */
import { describe } from '../../contract/errors.js';
import { DEFAULT_READY_TIMEOUT_S } from '../../systemd/unit-file.js';
import { formatWaitReady, notReadyError, waitReady } from '../../systemd/wait-ready.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION, configOfFlag } from '../config-flag.js';
import { secondsFlag } from '../parse-command-line.js';

export const waitReadyCommand = defineCommand({
  name: 'wait-ready',
  usage: `  snaphost wait-ready [--config FILE] [--timeout SECONDS]
      Wait until every backend's socket accepts connections (default ${DEFAULT_READY_TIMEOUT_S} s);
      exit 1 if one does not. systemd's ExecStartPost: readiness before containerd starts.
`,
  options: { ...CONFIG_OPTION, timeout: { type: 'string' } },
  async run({ values, logLevel }, io) {
    const config = await configOfFlag(values.config, logLevel, io);
    const timeoutMs = Math.round(secondsFlag(values.timeout, DEFAULT_READY_TIMEOUT_S) * 1000);
    const result = await waitReady(config, { timeoutMs });
    io.stdout.write(`${formatWaitReady(result, timeoutMs).join('\n')}\n`);
    if (result.ok) return 0;
    io.stderr.write(`snaphost: ${describe(notReadyError(result, timeoutMs))}\n`);
    return 1;
  },
});
