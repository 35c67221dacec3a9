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

/**
 * glibc's malloc with one arena (unless snaphost's environment says otherwise): with one per
 * thread (index workers, the thread pool, FUSE threads), the memory each thread freed stayed
 * in its own arena; one arena held an idle fused ~25 MiB lower after its warm-up
 * (docs/benchmarks.md, "Memory (issue 16)"). Other C libraries ignore it.
 */
export const FUSED_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

/**
 * `NODE_OPTIONS` of the process: snaphost's own, then `flags` (V8 heap limits from
 * protocol/memory-budget.ts: later flags win, and `NODE_OPTIONS` reaches node through `nsenter`
 * too, whatever the command).
 */
export function nodeOptionsWith(current: string | undefined, flags: readonly string[]): string {
  for (const f of flags) if (!/^--[a-z0-9-]+(=[A-Za-z0-9._-]+)?$/.test(f)) throw new Error(`not a node flag: ${JSON.stringify(f)}`);
  return [current ?? '', ...flags].filter((s) => s.trim() !== '').join(' ');
}

/**
 * `env`: added to snaphost's environment (fusedOnHost: the generation and the cgroup, generation.ts);
 * `nodeFlags`: added to its `NODE_OPTIONS`.
 */
export function spawnFused(
  root: string,
  logFile: string,
  command: readonly string[],
  env?: Readonly<Record<string, string>>,
  nodeFlags: readonly string[] = [],
): SpawnedFused {
  const [file, ...args] = command;
  if (!file) throw new Error('empty command for the FUSE-serving process');
  const fd = openSync(logFile, 'a', 0o600);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  try {
    const base = { ...FUSED_MALLOC_ENV, ...process.env, ...env };
    const nodeOptions = nodeOptionsWith(base.NODE_OPTIONS, nodeFlags);
    const childEnv = nodeOptions === '' ? base : { ...base, NODE_OPTIONS: nodeOptions };
    const child = spawn(file, [...args, '--root', root], { detached: true, stdio: ['ignore', fd, fd], cwd: root, env: childEnv });
    child.once('exit', (code, signal) => (exit = { code, signal }));
    child.once('error', () => (exit = { code: null, signal: null }));
    child.unref();
    return { pid: child.pid, exited: () => exit };
  } finally {
    closeSync(fd);
  }
}
