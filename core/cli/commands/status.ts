/** `snaphost status`: the running daemon's report, asked on its admin socket. */
import { requestStatus } from '../../admin/admin-client.js';
import { findAdminSocket } from '../../admin/find-admin-socket.js';
import { renderStatus } from '../../status/render-status.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION } from '../config-flag.js';
import { secondsFlag, UsageError } from '../parse-command-line.js';

export const statusCommand = defineCommand({
  name: 'status',
  usage: `  snaphost status [--config FILE | --admin-socket PATH] [--json] [--timeout SECONDS]
      Per backend: state, socket, root, snapshot count, disk use and, for lazy backends,
      every remote layer with its fetched percent. --json: the report as JSON.
`,
  options: { ...CONFIG_OPTION, timeout: { type: 'string' }, 'admin-socket': { type: 'string' }, json: { type: 'boolean' } },
  messages: 'named',
  async run({ values }, io) {
    const timeoutMs = Math.round(secondsFlag(values.timeout, 60) * 1000);
    if (values.config !== undefined && values['admin-socket'] !== undefined) throw new UsageError('--config and --admin-socket cannot be combined');
    const socket = await findAdminSocket({ adminSocket: values['admin-socket'], config: values.config, cwd: io.cwd });
    const report = await requestStatus(socket, timeoutMs);
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
    return 0;
  },
});
