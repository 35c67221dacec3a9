/** `snaphost reload`: ask the running daemon, on its admin socket, to re-read its config. */
import { requestReload } from '../../admin/admin-client.js';
import { formatReloadResult } from '../../reload/reload-result.js';
import { ADMIN_SOCKET_OPTIONS, adminSocketOfFlags } from '../admin-socket-flag.js';
import { defineCommand } from '../command.js';
import { secondsFlag } from '../parse-command-line.js';

export const reloadCommand = defineCommand({
  name: 'reload',
  usage: `  snaphost reload [--config FILE | --admin-socket PATH] [--timeout SECONDS]
      Ask the running daemon to re-read its config (as SIGHUP does): added backends start,
      removed ones drain and stop, changed ones restart, the others are not touched. An
      invalid config is rejected whole (exit 1, with every problem) and the old one keeps
      serving. The admin socket is <socketDir>/snaphost-admin.sock of the config.
`,
  options: { ...ADMIN_SOCKET_OPTIONS, timeout: { type: 'string' } },
  messages: 'named',
  async run({ values }, io) {
    const timeoutMs = Math.round(secondsFlag(values.timeout, 600) * 1000);
    const socket = await adminSocketOfFlags(values, io);
    const result = await requestReload(socket, timeoutMs);
    (result.ok ? io.stdout : io.stderr).write(`${formatReloadResult(result).join('\n')}\n`);
    return result.ok ? 0 : 1;
  },
});
