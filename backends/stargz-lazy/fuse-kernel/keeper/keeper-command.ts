/**
 * The command that runs the FUSE-serving process under the connection keeper: `node
 * keeper/main.js <command…>` (the compiled main.js next to this module, or the repository's
 * dist/ when running from the sources).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function keeperCommand(command: readonly string[]): string[] {
  const sibling = new URL('./main.js', import.meta.url);
  const main = import.meta.url.endsWith('.js') && existsSync(sibling) ? sibling : new URL('../../../../dist/backends/stargz-lazy/fuse-kernel/keeper/main.js', import.meta.url);
  return [process.execPath, fileURLToPath(main), ...command];
}
