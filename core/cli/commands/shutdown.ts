/**
 * `snaphost shutdown`: run the backends' `shutdown` hooks (core/admin/shutdown-backends.ts),
 * refused while a daemon answers on the admin socket (unless --force).
 */
import { pingDaemon } from '../../admin/admin-client.js';
import { findAdminSocket } from '../../admin/find-admin-socket.js';
import { shutdownBackends } from '../../admin/shutdown-backends.js';
import { createLogger } from '../../logger.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION, configOfFlag } from '../config-flag.js';
import { secondsFlag, UsageError } from '../parse-command-line.js';

/** How long "is a daemon running?" may take. */
const PING_TIMEOUT_MS = 3000;

export const shutdownCommand = defineCommand({
  name: 'shutdown',
  usage: `  snaphost shutdown [--config FILE] [--backend NAME ...] [--force] [--timeout SECONDS]
      The explicit full stop, after the daemon has stopped: run each backend's shutdown
      (stargz-lazy: stop its FUSE-serving process, unmounting its layers). Refused while the
      daemon answers on its admin socket, unless --force.
`,
  options: { ...CONFIG_OPTION, timeout: { type: 'string' }, backend: { type: 'string', multiple: true }, force: { type: 'boolean' } },
  messages: 'named',
  async run({ values, logLevel }, io) {
    for (const name of values.backend ?? []) if (name === '') throw new UsageError('--backend needs a backend name');
    const timeoutMs = Math.round(secondsFlag(values.timeout, 120) * 1000);
    const config = await configOfFlag(values.config, logLevel, io);
    const socket = await findAdminSocket({ config: config.file, cwd: io.cwd });
    const pid = await pingDaemon(socket, PING_TIMEOUT_MS).catch(() => -1);
    if (pid !== undefined && !values.force) {
      const who = pid === -1 ? 'something' : `the daemon (pid ${pid})`;
      io.stderr.write(
        `snaphost shutdown: ${who} is answering on ${socket}; stop the daemon first (systemctl stop snaphost), ` +
          `or pass --force to stop its backends' outside processes under it (running containers lose their lazily pulled files)\n`,
      );
      return 1;
    }
    const log = createLogger({ level: config.logLevel });
    const outcomes = await shutdownBackends(config, { names: values.backend ?? [], force: values.force === true, log, timeoutMs });
    for (const o of outcomes) (o.outcome === 'failed' ? io.stderr : io.stdout).write(`${o.name}: ${o.outcome === 'failed' ? 'FAILED: ' : ''}${o.message}\n`);
    return outcomes.some((o) => o.outcome === 'failed') ? 1 : 0;
  },
});
