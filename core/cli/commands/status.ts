/** `snaphost status`: the running daemon's report, asked on its admin socket. */
import { requestStatus } from '../../admin/admin-client.js';
import { renderStatus } from '../../status/render-status.js';
import { ADMIN_SOCKET_OPTIONS, adminSocketOfFlags } from '../admin-socket-flag.js';
import { defineCommand } from '../command.js';
import { secondsFlag } from '../parse-command-line.js';

export const statusCommand = defineCommand({
  name: 'status',
  usage: `  snaphost status [--config FILE | --admin-socket PATH] [--json] [--timeout SECONDS]
      Per backend: state, socket, root, snapshot count, disk use and, for lazy backends,
      every remote layer with its fetched percent. --json: the report as JSON.
`,
  options: { ...ADMIN_SOCKET_OPTIONS, timeout: { type: 'string' }, json: { type: 'boolean' } },
  messages: 'named',
  async run({ values }, io) {
    const timeoutMs = Math.round(secondsFlag(values.timeout, 60) * 1000);
    const socket = await adminSocketOfFlags(values, io);
    const report = await requestStatus(socket, timeoutMs);
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
    return 0;
  },
});
