/**
 * What `snaphost check` verifies about the machine. Errors are what every backend needs
 * (root, overlayfs, writable socket and root directories); warnings are what only some
 * backends need (FUSE: /dev/fuse and libfuse2 for lazy-pulling backends).
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ResolvedConfig } from '../config/resolved-config.js';

export interface EnvironmentCheck {
  name: string;
  ok: boolean;
  /** `error`: snaphost cannot work; `warning`: some backends cannot. */
  severity: 'error' | 'warning';
  detail: string;
}

export async function checkEnvironment(config: ResolvedConfig): Promise<EnvironmentCheck[]> {
  const dirs = new Map<string, string>();
  for (const b of config.backends) {
    dirs.set(dirname(b.socket), `socket directory of ${b.name}`);
    dirs.set(dirname(b.root), `parent of ${b.name}'s root`);
  }
  return Promise.all([checkRoot(), checkOverlay(), checkFuseDevice(), checkLibfuse2(), ...[...dirs].map(([d, what]) => checkWritable(d, what))]);
}

async function checkRoot(): Promise<EnvironmentCheck> {
  const uid = process.getuid?.();
  return {
    name: 'root',
    ok: uid === 0,
    severity: 'error',
    detail: uid === 0 ? 'running as root' : `running as uid ${uid ?? 'unknown'}; mounting snapshots needs root`,
  };
}

async function checkOverlay(): Promise<EnvironmentCheck> {
  const fs = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  const ok = fs.split('\n').some((l) => l.trim().split(/\s+/).pop() === 'overlay');
  return {
    name: 'overlayfs',
    ok,
    severity: 'error',
    detail: ok ? 'overlay is in /proc/filesystems' : 'overlay is not in /proc/filesystems (try `modprobe overlay`)',
  };
}

async function checkFuseDevice(): Promise<EnvironmentCheck> {
  const info = await stat('/dev/fuse').catch(() => undefined);
  const ok = info?.isCharacterDevice() === true;
  return {
    name: '/dev/fuse',
    ok,
    severity: 'warning',
    detail: ok ? '/dev/fuse is present' : '/dev/fuse is missing (FUSE backends cannot mount; `modprobe fuse`, or pass the device into the container)',
  };
}

async function checkLibfuse2(): Promise<EnvironmentCheck> {
  const listing = await new Promise<string>((res) => {
    execFile('ldconfig', ['-p'], { timeout: 5000 }, (err, stdout) => res(err ? '' : stdout));
  });
  const ok = /\blibfuse\.so\.2\b/.test(listing);
  return {
    name: 'libfuse2',
    ok,
    severity: 'warning',
    detail: ok ? 'libfuse.so.2 is installed' : '`ldconfig -p` does not list libfuse.so.2 (FUSE backends need it; Debian: apt-get install libfuse2)',
  };
}

/** The directory, or the nearest existing ancestor (it will be created), must be writable. */
async function checkWritable(dir: string, what: string): Promise<EnvironmentCheck> {
  let probe = dir;
  while (!(await stat(probe).catch(() => undefined))) {
    const parent = dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  const ok = await access(probe, constants.W_OK).then(
    () => true,
    () => false,
  );
  const where = probe === dir ? dir : `${dir} (will be created under ${probe})`;
  return { name: `writable ${dir}`, ok, severity: 'error', detail: `${what}: ${where} is ${ok ? '' : 'not '}writable` };
}
