/** `--config FILE`, shared by the commands that read the config, and what they do with a backend that does not load. */
import { loadConfig } from '../config/load-config.js';
import { loadFailures } from '../config/resolve-config.js';
import type { ResolvedConfig } from '../config/resolved-config.js';
import { describe } from '../contract/errors.js';
import type { LogLevel } from '../logger.js';
import type { CliIo } from './command.js';

export const CONFIG_OPTION = { config: { type: 'string' } } as const;

/** The config of `--config FILE` (default: plugins.config.{ts,mjs,js,json} in the working directory). */
export function configOfFlag(file: string | undefined, logLevel: LogLevel | undefined, io: CliIo): Promise<ResolvedConfig> {
  return loadConfig(file, io.cwd, { logLevel });
}

/** Print why required backends do not load; true when there are any. */
export function refuseLoadFailures(config: ResolvedConfig, io: CliIo): boolean {
  const { fatal } = loadFailures(config);
  io.stderr.write(fatal.map((b) => `snaphost: ${describe(b.error)}\n`).join(''));
  return fatal.length > 0;
}
