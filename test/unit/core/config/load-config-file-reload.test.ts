import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../../core/config/load-config-file.js';

describe('loadConfigFile on reload', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'snaphost-config-reload-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const ext of ['mjs', 'js']) {
    it(`sees an edited .${ext} config the second time (Node caches imported modules)`, async () => {
      const file = path.join(dir, `plugins.config.${ext}`);
      if (ext === 'js') await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
      await writeFile(file, "export default { backends: [{ use: 'memory' }] };\n");
      const first = await loadConfigFile(file, dir);
      await writeFile(file, "export default { backends: [{ use: 'memory', name: 'edited' }] };\n");
      const later = new Date(Date.now() + 2_000);
      await utimes(file, later, later);
      const second = await loadConfigFile(file, dir);
      expect(JSON.stringify(first.config)).toContain('"memory"');
      expect(JSON.stringify(first.config)).not.toContain('edited');
      expect(JSON.stringify(second.config)).toContain('"edited"');
      // Unchanged since: the same content again.
      const third = await loadConfigFile(file, dir);
      expect(JSON.stringify(third.config)).toContain('"edited"');
    });
  }
});
