/**
 * How `snaphost check-containerd` prints its findings: containerd's own first, then one block per
 * backend in the config's order, then a result line. `--json` prints the array as it is.
 */
import type { ContainerdFinding } from './finding.js';

const LABEL: Record<ContainerdFinding['severity'], string> = { ok: 'ok', warning: 'warning', error: 'ERROR' };

export function renderFindings(findings: readonly ContainerdFinding[], backendOrder: readonly string[], address: string): string {
  const lines: string[] = [];
  const block = (title: string, items: readonly ContainerdFinding[]) => {
    if (items.length === 0) return;
    lines.push(title);
    for (const f of items) lines.push(`  ${LABEL[f.severity].padEnd(8)} ${f.code.padEnd(28)} ${f.message}`);
  };
  block(`containerd (${address}):`, findings.filter((f) => f.backend === undefined));
  const names = [...backendOrder, ...new Set(findings.map((f) => f.backend).filter((b): b is string => b !== undefined && !backendOrder.includes(b)))];
  for (const name of names) block(`backend ${name}:`, findings.filter((f) => f.backend === name));
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.filter((f) => f.severity === 'warning').length;
  lines.push(errors + warnings === 0 ? 'result: ok' : `result: ${errors} error(s), ${warnings} warning(s)`);
  return `${lines.join('\n')}\n`;
}

/** 1 when any finding is an error, else 0 (warnings do not fail the check). */
export function findingsExitCode(findings: readonly ContainerdFinding[]): 0 | 1 {
  return findings.some((f) => f.severity === 'error') ? 1 : 0;
}
