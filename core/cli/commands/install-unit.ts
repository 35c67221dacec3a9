/** `snaphost install-unit`: write snaphost.service for this install and config. */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_UNIT_PREFIX, installUnit, nextSteps, runtimeNodeBin, snaphostCommand } from '../../systemd/install-unit.js';
import { DEFAULT_READY_TIMEOUT_S } from '../../systemd/unit-file.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION, configOfFlag, refuseLoadFailures } from '../config-flag.js';
import { secondsFlag, UsageError } from '../parse-command-line.js';

/** The `snaphost` executable of this install (core/cli/snaphost.ts, as built or as sources). */
const CLI_ENTRY = new URL(`../snaphost${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export const installUnitCommand = defineCommand({
  name: 'install-unit',
  usage: `  snaphost install-unit [--config FILE] [--prefix DIR] [--bin PATH] [--timeout SECONDS]
      Write snaphost.service (default ${DEFAULT_UNIT_PREFIX}) running this install on the
      config, and print what to run next. It does not call systemctl.
`,
  options: { ...CONFIG_OPTION, prefix: { type: 'string' }, bin: { type: 'string' }, timeout: { type: 'string' } },
  async run({ values, logLevel }, io) {
    const config = await configOfFlag(values.config, logLevel, io);
    const readyTimeoutS = secondsFlag(values.timeout, DEFAULT_READY_TIMEOUT_S, true);
    if (values.prefix === '') throw new UsageError('--prefix must not be empty');
    if (refuseLoadFailures(config, io)) return 1;
    const command = await snaphostCommand(values.bin, realpathSync(fileURLToPath(CLI_ENTRY)), io.cwd);
    const unit = await installUnit({ prefix: resolve(io.cwd, values.prefix ?? DEFAULT_UNIT_PREFIX), command, config: config.file!, readyTimeoutS, nodeBin: runtimeNodeBin() });
    io.stdout.write(`${nextSteps(unit, command, config.file!)}\n`);
    return 0;
  },
});
