/**
 * The connection keeper a FUSE-serving process runs under, if any: its parent, when the
 * parent's command line runs keeper/main.js. Whoever stops the process on purpose (stop-fused.ts)
 * signals the keeper instead, so that the keeper does not start it again.
 */
import { readFile } from 'node:fs/promises';

export async function keeperOf(pid: number, proc = '/proc'): Promise<number | undefined> {
  try {
    const status = await readFile(`${proc}/${pid}/status`, 'utf8');
    const ppid = Number(/^PPid:\s+(\d+)$/m.exec(status)?.[1]);
    if (!Number.isInteger(ppid) || ppid <= 1) return undefined;
    const cmdline = (await readFile(`${proc}/${ppid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((arg) => /(^|\/)fuse-kernel\/keeper\/main\.js$/.test(arg)) ? ppid : undefined;
  } catch {
    return undefined; // gone, or no /proc: no keeper known
  }
}
