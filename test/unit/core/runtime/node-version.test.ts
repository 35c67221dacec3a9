import { describe, expect, it } from 'vitest';
import { MIN_NODE_MAJOR, nodeVersionProblem } from '../../../../core/runtime/node-version.js';
import pkg from '../../../../package.json' with { type: 'json' };

describe('nodeVersionProblem', () => {
  it('accepts the supported LTS and newer', () => {
    expect(nodeVersionProblem('24.0.0')).toBeUndefined();
    expect(nodeVersionProblem('24.22.3')).toBeUndefined();
    expect(nodeVersionProblem('26.1.0')).toBeUndefined();
  });

  it('refuses older Node.js with what to run', () => {
    for (const v of ['18.19.0', '20.20.2', '22.22.2']) {
      const p = nodeVersionProblem(v);
      expect(p).toContain(`Node.js >= ${MIN_NODE_MAJOR}`);
      expect(p).toContain(`this is Node.js ${v}`);
      expect(p).toContain('scripts/install-deps.sh');
    }
  });

  it('names a version it cannot read', () => {
    expect(nodeVersionProblem('v24')).toMatch(/cannot tell the Node.js version from "v24"/);
  });

  it('agrees with package.json engines', () => {
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_MAJOR}`);
  });

  it('the running test runtime is supported', () => {
    expect(nodeVersionProblem(process.versions.node)).toBeUndefined();
  });
});
