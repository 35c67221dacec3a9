/**
 * At open, in the daemon: containerd's registry hosts directories (`registry.hostsDirs`) are
 * read once and every broken file is logged at warn, naming the file and the key. The FUSE
 * process is the one that uses them (and logs the same at error, in `<root>/fused.log`); this
 * puts them where an operator running `snaphost serve` or `snaphost check` looks. Never fatal.
 */
import type { Logger } from '../../../core/sdk.js';
import { readHostsDirs } from '../registry/hosts-dirs.js';

export function reportHostsDirProblems(dirs: readonly string[], log: Logger): number {
  if (dirs.length === 0) return 0;
  let problems: readonly string[];
  try {
    problems = readHostsDirs(dirs).problems;
  } catch (err) {
    log.warn({ err }, 'registry hosts directories: cannot read them');
    return 1;
  }
  for (const problem of problems) log.warn(`registry hosts directory: ${problem} (lazy reads use the next candidate, e.g. _default, or the host itself)`);
  return problems.length;
}
