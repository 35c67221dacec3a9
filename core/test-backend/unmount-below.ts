/** Unmount everything still mounted at or below a directory (deepest first), before deleting it. */
import { readFile } from 'node:fs/promises';
import { runCommand } from '../overlay/run-command.js';

export async function unmountBelow(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  const points = table
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  const failed: string[] = [];
  for (const p of points) {
    await runCommand('umount', [p]).catch(() => runCommand('umount', ['-l', p])).catch(() => failed.push(p));
  }
  return failed;
}
