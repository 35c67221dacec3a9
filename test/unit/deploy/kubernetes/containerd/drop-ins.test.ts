/**
 * deploy/kubernetes/containerd: the committed drop-ins are what `snaphost containerd-config
 * --containerd N --fragment` prints for the deploy config (scripts/containerd-drop-ins.sh writes
 * them), under the header and the config version line. The 2.x unpack entries name linux/amd64:
 * the platform the drop-ins are generated on.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../../core/config/load-config.js';
import { containerdConfigToml } from '../../../../../core/containerd-config/containerd-config.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const deploy = join(repo, 'deploy/kubernetes');

describe.each([1, 2] as const)('snaphost-containerd%i.toml', (major) => {
  it('is the fragment snaphost containerd-config prints for the deploy config', async () => {
    const config = await loadConfig(join(deploy, 'plugins.config.ts'));
    const text = readFileSync(join(deploy, `containerd/snaphost-containerd${major}.toml`), 'utf8');
    const body = text.split('\n').filter((l, i, all) => i >= all.findIndex((x) => x.startsWith('version = ')));
    expect(body[0]).toBe(`version = ${major + 1}`);
    expect(body.slice(2).join('\n')).toBe(containerdConfigToml(config, { containerd: major, fragment: true, platform: 'linux/amd64' }));
  });
});
