/**
 * What is mounted where, from /proc/self/mountinfo (proc(5)): read as a file, so finding out
 * never touches a mount itself (a stat of a FUSE mount this process serves would deadlock).
 */
import { readFile } from 'node:fs/promises';

export interface MountInfoEntry {
  mountpoint: string;
  /** e.g. `fuse.snaphost-stargz`, `overlay`. */
  fstype: string;
  source: string;
}

export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 3) continue;
    out.push({ mountpoint: unescape(fields[4]!), fstype: fields[sep + 1]!, source: unescape(fields[sep + 2]!) });
  }
  return out;
}

/** The topmost mount at exactly `mountpoint` (an absolute, clean path), if any. */
export async function mountAt(mountpoint: string): Promise<MountInfoEntry | undefined> {
  const table = await readMountTable();
  let found: MountInfoEntry | undefined;
  for (const m of table) if (m.mountpoint === mountpoint) found = m;
  return found;
}

/** Whether `table` holds a mount of file system `fstype` from `source` at `mountpoint` (under others stacked on it, too). */
export function isMountedAt(table: readonly MountInfoEntry[], mountpoint: string, fstype: string, source: string): boolean {
  return table.some((m) => m.mountpoint === mountpoint && m.fstype === fstype && m.source === source);
}

/** The whole mount table of this process's mount namespace. */
export async function readMountTable(): Promise<MountInfoEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** mountinfo escapes space, tab, newline and backslash as `\ooo`. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
