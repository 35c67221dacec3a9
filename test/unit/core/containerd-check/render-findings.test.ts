import { describe, expect, it } from 'vitest';
import type { ContainerdFinding } from '../../../../core/containerd-check/finding.js';
import { findingsExitCode, renderFindings } from '../../../../core/containerd-check/render-findings.js';

const findings: ContainerdFinding[] = [
  { backend: 'b', severity: 'ok', code: 'proxy-plugin-ok', message: 'B ok' },
  { severity: 'ok', code: 'containerd-version', message: 'containerd v2.1.9' },
  { backend: 'a', severity: 'error', code: 'no-unpack-config', message: 'A missing' },
  { backend: 'a', severity: 'ok', code: 'proxy-plugin-ok', message: 'A ok' },
  { severity: 'warning', code: 'cri-disabled', message: 'no CRI' },
  { backend: 'extra', severity: 'warning', code: 'x', message: 'not in the config' },
];

describe('renderFindings', () => {
  it("containerd's findings first, then a block per backend in the config's order, then the result", () => {
    expect(renderFindings(findings, ['a', 'b'], '/run/containerd/containerd.sock').split('\n')).toEqual([
      'containerd (/run/containerd/containerd.sock):',
      `  ok       ${'containerd-version'.padEnd(28)} containerd v2.1.9`,
      `  warning  ${'cri-disabled'.padEnd(28)} no CRI`,
      'backend a:',
      `  ERROR    ${'no-unpack-config'.padEnd(28)} A missing`,
      `  ok       ${'proxy-plugin-ok'.padEnd(28)} A ok`,
      'backend b:',
      `  ok       ${'proxy-plugin-ok'.padEnd(28)} B ok`,
      'backend extra:',
      `  warning  ${'x'.padEnd(28)} not in the config`,
      'result: 1 error(s), 2 warning(s)',
      '',
    ]);
  });

  it('result: ok when everything is', () => {
    expect(renderFindings([{ backend: 'a', severity: 'ok', code: 'c', message: 'm' }], ['a'], '/s')).toMatch(/\nresult: ok\n$/);
  });
});

describe('findingsExitCode', () => {
  it('1 with any error, 0 with warnings only', () => {
    expect(findingsExitCode(findings)).toBe(1);
    expect(findingsExitCode(findings.filter((f) => f.severity !== 'error'))).toBe(0);
    expect(findingsExitCode([])).toBe(0);
  });
});
