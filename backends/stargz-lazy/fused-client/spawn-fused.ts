/**
 * Starting the FUSE-serving process: detached in its own session (`setsid`), stdin closed,
 * stdout and stderr appended to `<root>/fused.log`, not waited for (`unref`), so it outlives
 * snaphost. The default command is `node <dist>/backends/stargz-lazy/fused/main.js`.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface SpawnedFused {
  pid: number | undefined;
  /** Exit code or signal once it has exited; undefined while it runs. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** `[executable, ...args]` that runs main.js (the compiled one next to this module, or the repository's dist/). */
export function defaultFusedCommand(): string[] {
  const sibling = new URL('../fused/main.js', import.meta.url);
  // --expose-gc: the process collects the garbage of its start-up warm-up before it serves (main.ts).
  if (import.meta.url.endsWith('.js') && existsSync(sibling)) return [process.execPath, '--expose-gc', fileURLToPath(sibling)];
  return [process.execPath, '--expose-gc', fileURLToPath(new URL('../../../dist/backends/stargz-lazy/fused/main.js', import.meta.url))];
}

/** `env`: added to snaphost's environment (fusedOnHost: the generation and the cgroup, generation.ts). */
export function spawnFused(root: string, logFile: string, command: readonly string[], env?: Readonly<Record<string, string>>): SpawnedFused {
  const [file, ...args] = command;
  if (!file) throw new Error('empty command for the FUSE-serving process');
  const fd = openSync(logFile, 'a', 0o600);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  try {
    const child = spawn(file, [...args, '--root', root], { detached: true, stdio: ['ignore', fd, fd], cwd: root, env: env ? { ...process.env, ...env } : process.env });
    child.once('exit', (code, signal) => (exit = { code, signal }));
    child.once('error', () => (exit = { code: null, signal: null }));
    child.unref();
    return { pid: child.pid, exited: () => exit };
  } finally {
    closeSync(fd);
  }
}
