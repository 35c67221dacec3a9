/**
 * `snaphost check`: the config, every backend module and its options, an instance of each
 * created in a temporary root (core/backend/try-create.ts; `--no-create` skips that), and the
 * machine. Exit 1 on any problem; warnings (an options schema that lets unknown keys through,
 * a machine check that is only advice) do not fail it.
 */
import { tryCreate } from '../../backend/try-create.js';
import { looseOptionsAt } from '../../config/options-strictness.js';
import type { ResolvedBackend } from '../../config/resolved-config.js';
import { describe } from '../../contract/errors.js';
import { createLogger } from '../../logger.js';
import { checkEnvironment } from '../environment-check.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION, configOfFlag } from '../config-flag.js';

const INDENT = ''.padEnd(16);

export const checkCommand = defineCommand({
  name: 'check',
  usage: `  snaphost check [--config FILE] [--no-create] [--log-level LEVEL]
      Validate the config, load every backend module, validate its options, create an
      instance of each in a temporary root (then close and remove it; --no-create: skip
      that), check the machine (root, overlayfs, /dev/fuse, libfuse2, writable directories).
      Exit 1 on errors.
`,
  options: { ...CONFIG_OPTION, 'no-create': { type: 'boolean' } },
  async run({ values, logLevel }, io) {
    const config = await configOfFlag(values.config, logLevel, io);
    const create = values['no-create'] !== true;
    const log = createLogger({ level: logLevel ?? 'warn' });
    const out: string[] = [
      `config: ${config.file ?? '(command line)'}`,
      create
        ? 'backends: each module loaded, its options validated, an instance created in a temporary root, closed and removed'
        : 'backends: each module loaded and its options validated; no instance created (--no-create)',
    ];
    let problems = 0;
    for (const b of config.backends) {
      const error = b.error ? describe(b.error) : create ? await tryCreate(b, config, log) : undefined;
      const state = error === undefined ? 'ok' : b.optional ? 'optional-failed' : 'FAILED';
      if (state === 'FAILED') problems++;
      out.push(`  ${state.padEnd(16)} ${b.name}  use=${b.use}  socket=${b.socket}  root=${b.root}`);
      if (error !== undefined) out.push(`  ${INDENT} reason: ${error}`);
      for (const problem of await inputProblems(b)) out.push(`  ${'warning'.padEnd(16)} backends[${b.index}] "${b.name}": ${problem}`);
      const loose = looseWarning(b);
      if (loose !== undefined) out.push(`  ${'warning'.padEnd(16)} ${loose}`);
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

/** What the backend's own `check` finds in the files its options name (never fatal: the backend serves without them). */
async function inputProblems(b: ResolvedBackend): Promise<string[]> {
  if (!b.definition?.check || b.error) return [];
  try {
    return await b.definition.check(b.options);
  } catch (err) {
    return [`its check failed: ${describe(err)}`];
  }
}

/** A schema that lets an unknown key through: a typo in this backend's options would pass silently. */
function looseWarning(b: ResolvedBackend): string | undefined {
  if (!b.definition) return undefined;
  const at = looseOptionsAt(b.definition.options);
  if (at === undefined) return undefined;
  const where = at === '' ? 'options' : `options.${at}`;
  return `backends[${b.index}] "${b.name}": its options schema lets unknown keys through at ${where} (a zod object that is not .strict()), so a misspelled option passes silently; make it z.object({...}).strict()`;
}
