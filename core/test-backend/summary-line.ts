/**
 * The closing line every snaphost test tool prints, `N passed, N failed, N skipped`, and the
 * parser for the one containerd's conformance harness (test/conformance/run.sh) prints.
 */

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

const SUMMARY = /^(?:[A-Za-z-]+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/;

/** The counts of a summary line (ANSI colours and an optional `word: ` prefix allowed), else undefined. */
export function parseSummaryLine(line: string): Tally | undefined {
  // eslint-disable-next-line no-control-regex
  const m = SUMMARY.exec(line.replace(/\x1b\[[0-9;]*m/g, '').trim());
  if (!m) return undefined;
  return { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) };
}

export function formatSummary(t: Tally): string {
  return `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`;
}

export function addTallies(...tallies: Tally[]): Tally {
  return tallies.reduce((a, b) => ({ passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped }), {
    passed: 0,
    failed: 0,
    skipped: 0,
  });
}
