/**
 * Where a syntax error is. Node's ESM loader throws `SyntaxError: Unexpected token '}'` with no
 * file or line (the location only goes to stderr when the error is fatal), so on that failure
 * path we ask `node --check`, which prints `<file>:<line>` first.
 */
import { spawnSync } from 'node:child_process';

export function syntaxErrorLocation(file: string): string | undefined {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 5000 });
  const first = (r.stderr ?? '').split('\n')[0] ?? '';
  const m = /^(.+):(\d+)$/.exec(first);
  return m ? `line ${m[2]}` : undefined;
}
