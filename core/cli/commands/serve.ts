/** `snaphost serve`: the daemon, on the config's backends or on one given by flags. */
import { loadConfig, singleBackendConfig } from '../../config/load-config.js';
import { OptionArgError, parseOptionArgs } from '../../config/option-args.js';
import type { ResolvedConfig } from '../../config/resolved-config.js';
import { createLogger, type LogLevel } from '../../logger.js';
import { defineCommand, type CommandValues } from '../command.js';
import { CONFIG_OPTION } from '../config-flag.js';
import { UsageError } from '../parse-command-line.js';
import { runDaemon } from '../run-daemon.js';

const OPTIONS = {
  ...CONFIG_OPTION,
  backend: { type: 'string' },
  root: { type: 'string' },
  socket: { type: 'string' },
  option: { type: 'string', multiple: true },
} as const;

export const serve = defineCommand({
  name: 'serve',
  usage: `  snaphost serve [--config FILE] [--log-level LEVEL]
      Serve every backend of the config (default: plugins.config.{ts,mjs,js,json} in the
      working directory), each on its own containerd proxy-plugin socket.
  snaphost serve --backend NAME --root DIR --socket PATH [--option KEY=VALUE ...] [--log-level LEVEL]
      Serve one backend without a config file. NAME is a built-in name, a package name or a
      file path. --option values: true/false, numbers, JSON ({...}, [...], "..."), else text;
      dotted keys nest (cache.size=1g).
`,
  options: OPTIONS,
  async run({ values, logLevel }, io) {
    const config = await configOfServeFlags(values, logLevel, io.cwd);
    const reloadConfig = config.file !== undefined ? () => loadConfig(config.file, io.cwd, { logLevel }) : undefined;
    return runDaemon(config, { log: createLogger({ level: config.logLevel }), reloadConfig });
  },
});

async function configOfServeFlags(values: CommandValues<typeof OPTIONS>, logLevel: LogLevel | undefined, cwd: string): Promise<ResolvedConfig> {
  const single = values.backend !== undefined || values.root !== undefined || values.socket !== undefined || values.option !== undefined;
  if (!single) return loadConfig(values.config, cwd, { logLevel });
  if (values.config !== undefined) throw new UsageError('--config cannot be combined with --backend/--root/--socket/--option');
  const missing = (['backend', 'root', 'socket'] as const).filter((k) => values[k] === undefined || values[k] === '');
  if (missing.length > 0) throw new UsageError(`serve without a config file needs ${missing.map((k) => `--${k}`).join(', ')}`);
  let options: Record<string, unknown>;
  try {
    options = parseOptionArgs(values.option ?? []);
  } catch (err) {
    if (err instanceof OptionArgError) throw new UsageError(err.message);
    throw err;
  }
  return singleBackendConfig({ backend: values.backend!, root: values.root!, socket: values.socket!, options }, cwd, { logLevel });
}
