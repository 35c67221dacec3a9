/**
 * The running containerd's effective config, as `containerd config dump` prints it: the only
 * way to read the transfer service's unpack_config from outside. containerd's introspection
 * service does not report it (the transfer plugin registers no exports, and its instance
 * answers no PluginInfo; checked in containerd 2.1's plugins/transfer/plugin.go), and CRI's
 * status does not carry it either.
 *
 * Which binary and which file:
 * - containerd 2.x's introspection `Server` reports its PID and PID namespace. When that is our
 *   PID namespace, the binary is `/proc/PID/exe` (exactly the running one, also after a package
 *   upgrade) and the file is its `--config`/`-c` argument (relative to its working directory),
 *   else containerd's default /etc/containerd/config.toml.
 * - `--containerd-config FILE` names the file instead; without a PID (another PID namespace,
 *   containerd 1.x) the binary is `containerd` on PATH.
 * The dump is of the file as it is NOW (imports merged, defaults filled, version 2 migrated): if
 * it changed since containerd started, restart containerd to make the two agree.
 */
import { execFile } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { describe } from '../contract/errors.js';
import { containerdServer } from '../grpc/containerd-introspection.js';
import type { ContainerdCheckContext } from './check-context.js';

export const DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml';
const MAX_DUMP_BYTES = 16 * 1024 * 1024;

export interface ConfigDump {
  text: string;
  /** The binary that printed it (`/proc/PID/exe` → its path, or `containerd`). */
  binary: string;
  /** The config file it read. */
  config: string;
}

export async function containerdConfigDump(ctx: ContainerdCheckContext): Promise<ConfigDump | { error: string }> {
  const proc = await runningProcess(ctx);
  const config = ctx.containerdConfig ?? proc?.config ?? DEFAULT_CONTAINERD_CONFIG;
  const exe = proc?.exe ?? 'containerd';
  const binary = proc ? await readlink(proc.exe).catch(() => proc.exe) : exe;
  return new Promise((resolve) => {
    execFile(exe, ['--config', config, 'config', 'dump'], { timeout: ctx.callTimeoutMs, maxBuffer: MAX_DUMP_BYTES, signal: ctx.signal, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${exe} not found` : lastLine(stderr) || describe(err);
        resolve({ error: `\`${binary} --config ${config} config dump\` failed: ${why}` });
      } else resolve({ text: stdout, binary, config });
    });
  });
}

/** The running containerd's /proc/PID/exe and config file, when it is visible from here (its PID in our PID namespace). */
async function runningProcess(ctx: ContainerdCheckContext): Promise<{ exe: string; config: string } | undefined> {
  let server;
  try {
    server = await containerdServer(ctx.address, { signal: ctx.signal, timeoutMs: ctx.callTimeoutMs });
  } catch {
    return undefined;
  }
  if (server.pid === undefined || server.pidns === undefined) return undefined;
  try {
    const ours = /\[([0-9]+)\]/.exec(await readlink('/proc/self/ns/pid'))?.[1];
    if (ours !== String(server.pidns)) return undefined;
    const args = (await readFile(`/proc/${server.pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
    const cwd = await readlink(`/proc/${server.pid}/cwd`);
    const given = configArgument(args.slice(1));
    return { exe: `/proc/${server.pid}/exe`, config: given === undefined ? DEFAULT_CONTAINERD_CONFIG : path.resolve(cwd, given) };
  } catch {
    return undefined;
  }
}

/** containerd's `--config FILE` / `-c FILE` / `--config=FILE` (the last one wins), before any subcommand's arguments. */
export function configArgument(args: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a === '--config' || a === '-c' || a === '-config') found = args[++i];
    else if (a.startsWith('--config=') || a.startsWith('-config=')) found = a.slice(a.indexOf('=') + 1);
    else if (a.startsWith('-c=')) found = a.slice(3);
  }
  return found;
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop()?.trim() ?? '';
}
