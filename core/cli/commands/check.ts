/** `snaphost check`: the config, every backend module and its options, and the machine. */
import { describe } from '../../contract/errors.js';
import { checkEnvironment } from '../../runtime/environment-check.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION, configOfFlag } from '../config-flag.js';

export const checkCommand = defineCommand({
  name: 'check',
  usage: `  snaphost check [--config FILE] [--log-level LEVEL]
      Validate the config, load every backend module, validate its options, check the
      machine (root, overlayfs, /dev/fuse, libfuse2, writable directories). Exit 1 on errors.
`,
  options: { ...CONFIG_OPTION },
  async run({ values, logLevel }, io) {
    const config = await configOfFlag(values.config, logLevel, io);
    const out: string[] = [`config: ${config.file ?? '(command line)'}`, 'backends:'];
    let problems = 0;
    for (const b of config.backends) {
      const state = b.error ? (b.optional ? 'optional-failed' : 'FAILED') : 'ok';
      if (state === 'FAILED') problems++;
      out.push(`  ${state.padEnd(16)} ${b.name}  use=${b.use}  socket=${b.socket}  root=${b.root}`);
      if (b.error) out.push(`  ${''.padEnd(16)} reason: ${describe(b.error)}`);
    }
    out.push('environment:');
    for (const c of await checkEnvironment(config)) {
      const state = c.ok ? 'ok' : c.severity === 'error' ? 'FAILED' : 'warning';
      if (state === 'FAILED') problems++;
      out.push(`  ${state.padEnd(16)} ${c.detail}`);
    }
    out.push(problems === 0 ? 'result: ok' : `result: ${problems} problem(s)`);
    io.stdout.write(`${out.join('\n')}\n`);
    return problems === 0 ? 0 : 1;
  },
});
