/**
 * `~=` is RE2 (re2js) within the bounds of filter-limits.ts: containerd's syntax, linear-time
 * matching whatever the expression, and every bound refused with a message naming it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FILTER_LIMITS } from '../../../../core/contract/filter-limits.js';
import { parseFilters } from '../../../../core/contract/filters.js';
import type { Info } from '../../../../core/contract/snapshotter.js';

const info = (labels: Record<string, string>, name = 'n'): Info => ({ name, parent: '', kind: 'active', labels, created: 0n, updated: 0n });
const matches = (filter: string, labels: Record<string, string>) => parseFilters([filter]).match(info(labels));

describe('~= is RE2, as Go regexp', () => {
  it('is unanchored and takes RE2 syntax: flags, named groups, classes, \\Q…\\E', () => {
    expect(matches('labels.v~=b', { v: 'abc' })).toBe(true);
    expect(matches('labels.v~=/(?i)ABC/', { v: 'xabcx' })).toBe(true);
    expect(matches('labels.v~=/(?P<x>a)(?<y>b)/', { v: 'ab' })).toBe(true);
    // Inside /…/ the filter grammar unquotes first (Go strconv): a regex backslash is written \\.
    expect(matches('labels.v~=/^[[:digit:]]+\\\\pL$/', { v: '12é' })).toBe(true);
    expect(matches('labels.v~=/\\\\Qa.b\\\\E/', { v: 'axb' })).toBe(false);
    expect(matches('labels.v~=/\\\\Qa.b\\\\E/', { v: 'a.b' })).toBe(true);
    expect(matches('labels.v~=/(?s)a.b/', { v: 'a\nb' })).toBe(true);
    expect(matches('labels.v~=/a.b/', { v: 'a\nb' })).toBe(false);
  });

  it('refuses what Go refuses (backreferences, lookaround) as INVALID_ARGUMENT', () => {
    for (const re of ['(a)\\\\1', 'a(?=b)', 'a(?<=b)', 'a\\\\Z']) {
      expect(() => parseFilters([`labels.v~=/${re}/`])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/invalid regular expression/) }));
    }
  });

  it('matches ^(a+)+$ against a 4 KiB value in linear time', () => {
    const f = parseFilters(['labels.v~=^(a+)+$']);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) expect(f.match(info({ v: `${'a'.repeat(4090)}!` }))).toBe(false);
    expect((performance.now() - t0) / 100).toBeLessThan(100); // measured < 1 ms each; JS RegExp: seconds to hours
  });

  it('any expression within the bounds matches a 4 KiB value within a bounded time (property)', () => {
    // Expressions built from nested quantifiers and alternations, the shapes that blow up
    // backtracking engines and RE2's DFA cache; measured up to ~200 ms per match at the bound.
    const atom = fc.constantFrom('a', 'b', '[ab]', '.', '(?:a|b)', 'a?', 'b*');
    const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
      e: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        atom,
        fc.tuple(tie('e'), fc.constantFrom('+', '*', '?', '{2,5}')).map(([e, q]) => `(?:${e})${q}`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `${a}${b}`),
        fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(?:${a}|${b})`),
      ),
    })).e;
    let worst = 0;
    fc.assert(
      fc.property(expr, fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 4000, maxLength: 4096 }), (re, value) => {
        let f;
        try {
          f = parseFilters([`labels.v~=/^${re}$/`]);
        } catch {
          return; // over a bound: refused, nothing to match
        }
        const t0 = performance.now();
        f.match(info({ v: value }));
        worst = Math.max(worst, performance.now() - t0);
        expect(performance.now() - t0).toBeLessThan(2000);
      }),
      { numRuns: 60 },
    );
    expect(worst).toBeLessThan(2000);
  }, 120_000);
});

describe('filter bounds', () => {
  const L = DEFAULT_FILTER_LIMITS;

  it('refuses filters over maxFilterBytes in all, naming the bound', () => {
    const half = `name==${'x'.repeat(L.maxFilterBytes / 2)}`;
    expect(() => parseFilters([half, half])).toThrow(/filters are \d+ bytes in all, more than the maximum of 131072 bytes \(maxFilterBytes\)/);
    expect(() => parseFilters([`name==${'é'.repeat(L.maxFilterBytes / 2)}`])).toThrow(/maxFilterBytes/); // UTF-8 bytes, not characters
    expect(() => parseFilters([half])).not.toThrow();
    const accents = `name==${'é'.repeat(L.maxFilterBytes / 5)}`; // each fits, together over
    expect(() => parseFilters([accents])).not.toThrow();
    expect(() => parseFilters([accents, accents, accents])).toThrow(/maxFilterBytes/);
  });

  it('refuses more than maxFilterSelectors selectors across all filter strings', () => {
    const sel = (n: number) => Array.from({ length: n }, (_, i) => `labels.l${i}`).join(',');
    expect(() => parseFilters([sel(L.maxFilterSelectors)])).not.toThrow();
    expect(() => parseFilters([sel(200), sel(100)])).toThrow(/more than the maximum of 256 selectors \(maxFilterSelectors\)/);
  });

  it('refuses a regex over maxRegexBytes or maxRegexInstructions, and takes custom limits', () => {
    expect(() => parseFilters([`labels.v~=/${'a'.repeat(L.maxRegexBytes + 1)}/`])).toThrow(/1025 bytes, more than the maximum of 1024 \(maxRegexBytes\)/);
    expect(() => parseFilters(['labels.v~=/a{300}/'])).toThrow(/compiles to \d+ instructions, more than the maximum of 256 \(maxRegexInstructions\)/);
    expect(() => parseFilters(['labels.v~=/a{300}/'], { ...L, maxRegexInstructions: 1000 })).not.toThrow();
    expect(() => parseFilters(['labels.v~=/^sha256:[0-9a-f]{64}$/'])).not.toThrow(); // a real-world pattern fits
  });

  it('a parse error shows a window of the filter, never all of it', () => {
    const long = `labels.${'x'.repeat(50_000)}=="open`;
    let message = '';
    try {
      parseFilters([long]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid filter: parse error at position 50009: \[\(49945 more\)…x{62}== >\|"\|< open\]: quoted literal not terminated$/);
  });
});

describe('prefilter and matchSliced', () => {
  it('prefilter is a superset; matchSliced equals match and pauses before each ~= selector', async () => {
    const f = parseFilters(['labels.a==1,labels.v~=^x', 'name==other']);
    const i = info({ a: '1', v: 'y' });
    expect(f.hasRegex).toBe(true);
    expect(f.prefilter.match(i)).toBe(true);
    expect(f.match(i)).toBe(false);
    let pauses = 0;
    expect(await f.matchSliced(i, () => (pauses++, undefined))).toBe(false);
    expect(pauses).toBe(1);
    await fc.assert(
      fc.asyncProperty(fc.record({ a: fc.constantFrom('1', '2'), v: fc.constantFrom('x', 'xy', 'y') }), fc.constantFrom('n', 'other'), async (labels, name) => {
        const it2 = info(labels, name);
        const want = f.match(it2);
        expect(await f.matchSliced(it2, () => Promise.resolve())).toBe(want);
        if (want) expect(f.prefilter.match(it2)).toBe(true);
      }),
    );
  });
});
