/**
 * Run a system command (mount, umount, …) without a shell and fail with what it printed.
 */
import { execFile } from 'node:child_process';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** A command exited non-zero, was killed, or could not be started. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    const what = [command, ...args].join(' ');
    const why = exitCode === null ? 'could not run' : `exited with status ${exitCode}`;
    super(`${what}: ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`, options);
    this.name = 'CommandError';
  }
}

/** Run `command args…`; resolves with its output when it exits 0, rejects with CommandError otherwise. */
export function runCommand(command: string, args: readonly string[], opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: opts.timeoutMs ?? 60_000, signal: opts.signal, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const code = typeof err.code === 'number' ? err.code : null;
        const detail = stderr || (code === null ? err.message : '');
        reject(new CommandError(command, args, code, detail, { cause: err }));
      },
    );
  });
}
