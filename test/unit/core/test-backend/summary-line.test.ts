import { describe, expect, it } from 'vitest';
import { addTallies, formatSummary, parseSummaryLine } from '../../../../core/test-backend/summary-line.js';

describe('summary line', () => {
  it('parses the harness line, with skipped, a label or colours', () => {
    expect(parseSummaryLine('24 passed, 0 failed, 1 skipped')).toEqual({ passed: 24, failed: 0, skipped: 1 });
    expect(parseSummaryLine('3 passed, 2 failed')).toEqual({ passed: 3, failed: 2, skipped: 0 });
    expect(parseSummaryLine('conformance: 1 passed, 0 failed, 0 skipped')).toEqual({ passed: 1, failed: 0, skipped: 0 });
    expect(parseSummaryLine('\x1b[32m5 passed, 0 failed\x1b[0m')).toEqual({ passed: 5, failed: 0, skipped: 0 });
  });

  it('ignores lines that only contain the words', () => {
    expect(parseSummaryLine('PASS Basic: 24 passed, 0 failed in the other run')).toBeUndefined();
    expect(parseSummaryLine('passed, failed')).toBeUndefined();
  });

  it('formats and adds up', () => {
    const t = addTallies({ passed: 11, failed: 0, skipped: 0 }, { passed: 24, failed: 1, skipped: 1 });
    expect(formatSummary(t)).toBe('35 passed, 1 failed, 1 skipped');
    expect(parseSummaryLine(formatSummary(t))).toEqual(t);
  });
});
