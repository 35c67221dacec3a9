/**
 * Whether a process runs, by its pid (signal 0): what tells a leftover of a dead process (a
 * temp file, a warm-up directory) from one still in use. EPERM means it runs under another user.
 * A pid can be reused, so callers that remove things also go by age.
 */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown } | null)?.code === 'EPERM';
  }
}
