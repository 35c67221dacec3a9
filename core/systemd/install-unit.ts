/**
 * `snaphost install-unit`: write snaphost.service with the absolute paths of this install and
 * say what to run next. It never calls systemctl: enabling a daemon in front of containerd is
 * the operator's step.
 */
import { access, constants, mkdir, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../contract/errors.js';
import { unitFile } from './unit-file.js';

export const UNIT_NAME = 'snaphost.service';
export const DEFAULT_UNIT_PREFIX = '/etc/systemd/system';

export interface InstallUnitOptions {
  /** Directory the unit goes to (created if missing). */
  prefix: string;
  /** The snaphost command as argv (absolute program path first). */
  command: readonly string[];
  /** Absolute path of the config file the unit serves. */
  config: string;
  readyTimeoutS?: number;
  /** bin/ of snaphost's own Node.js runtime for the unit's PATH (default /opt/snaphost/node/bin). */
  nodeBin?: string;
}

export interface InstalledUnit {
  path: string;
  content: string;
}

export async function installUnit(o: InstallUnitOptions): Promise<InstalledUnit> {
  const content = unitFile({ command: o.command, config: o.config, readyTimeoutS: o.readyTimeoutS, nodeBin: o.nodeBin });
  const prefix = resolve(o.prefix);
  await mkdir(prefix, { recursive: true });
  const path = join(prefix, UNIT_NAME);
  // Written beside the target and renamed: systemd never reads half a unit.
  const tmp = join(prefix, `.${UNIT_NAME}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { path, content };
}

/**
 * The command that runs this snaphost: `--bin PATH` (an executable; relative to `cwd`), else
 * Node.js and the built CLI file that is running now. The TypeScript sources cannot be run by
 * systemd, so a `.ts` CLI file needs `--bin`.
 *
 * Node.js is named by the stable path of snaphost's own runtime (`nodeHome`/bin/node, default
 * $SNAPHOST_NODE_HOME as scripts/lib/node-runtime.sh exports it: /opt/snaphost/node, a symlink
 * to the pinned version) when that is the Node.js running now, so that upgrading the runtime
 * does not leave the unit on a removed version; else by this process's own executable.
 */
export async function snaphostCommand(
  bin: string | undefined,
  cliFile: string,
  cwd: string,
  nodeHome: string | undefined = process.env.SNAPHOST_NODE_HOME,
): Promise<string[]> {
  if (bin !== undefined) {
    if (bin === '') throw new InvalidArgumentError('--bin must not be empty');
    const path = isAbsolute(bin) ? bin : resolve(cwd, bin);
    await access(path, constants.X_OK).catch((err: NodeJS.ErrnoException) => {
      throw new InvalidArgumentError(`--bin ${path} is not an executable file (${err.code ?? err.message})`);
    });
    return [path];
  }
  if (!cliFile.endsWith('.js')) {
    throw new InvalidArgumentError(`this snaphost runs from its sources (${cliFile}); build it (npm run build) and run dist/core/cli/snaphost.js, or pass --bin PATH`);
  }
  return [await nodeCommand(nodeHome), cliFile];
}

async function nodeCommand(nodeHome: string | undefined): Promise<string> {
  if (nodeHome === undefined || nodeHome === '' || !isAbsolute(nodeHome)) return process.execPath;
  const stable = join(nodeHome, 'bin', 'node');
  const [a, b] = await Promise.all([realpath(stable).catch(() => undefined), realpath(process.execPath).catch(() => process.execPath)]);
  return a === b ? stable : process.execPath;
}

/** bin/ of snaphost's own runtime as the scripts name it ($SNAPHOST_NODE_HOME/bin), if set. */
export function runtimeNodeBin(nodeHome: string | undefined = process.env.SNAPHOST_NODE_HOME): string | undefined {
  return nodeHome !== undefined && isAbsolute(nodeHome) ? join(nodeHome, 'bin') : undefined;
}

/** What `install-unit` prints after writing the unit. */
export function nextSteps(unit: InstalledUnit, command: readonly string[], config: string): string {
  const cmd = command.map(shellWord).join(' ');
  return [
    `wrote ${unit.path}`,
    `  ExecStart=${cmd} serve --config ${shellWord(config)}`,
    'next:',
    '  systemctl daemon-reload && systemctl enable --now snaphost',
    `  ${cmd} containerd-config --config ${shellWord(config)}   # merge into /etc/containerd/config.toml, then: systemctl restart containerd`,
    command.length > 1 ? `The unit runs ${command[0]} by its path: run install-unit again after moving or upgrading Node.js.` : '',
  ]
    .filter((l) => l !== '')
    .join('\n');
}

function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
