/**
 * Where containerd's conformance harness is: `test/conformance/` of the snaphost package that
 * is running (it ships in the npm package), found by walking up from this module, so it works
 * from a repository checkout (`core/test-backend/`) and from an install
 * (`node_modules/snaphost/dist/core/test-backend/`). `SNAPHOST_CONFORMANCE_DIR` overrides it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export class HarnessNotFoundError extends Error {}

export function findHarness(env: NodeJS.ProcessEnv = process.env, from: string = dirname(fileURLToPath(import.meta.url))): string {
  const override = env.SNAPHOST_CONFORMANCE_DIR;
  if (override !== undefined && override !== '') {
    const dir = resolve(override);
    if (!existsSync(join(dir, 'run.sh'))) throw new HarnessNotFoundError(`SNAPHOST_CONFORMANCE_DIR=${override}: ${join(dir, 'run.sh')} does not exist`);
    return dir;
  }
  for (let dir = from, depth = 0; depth < 6; dir = dirname(dir), depth++) {
    const candidate = join(dir, 'test', 'conformance');
    if (existsSync(join(candidate, 'run.sh')) && isSnaphostPackage(dir)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new HarnessNotFoundError(
    `containerd's conformance harness (test/conformance/run.sh) was not found in the snaphost package above ${from}; ` +
      'reinstall snaphost, or set SNAPHOST_CONFORMANCE_DIR to a test/conformance directory of the snaphost sources',
  );
}

function isSnaphostPackage(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'snaphost';
  } catch {
    return false;
  }
}
