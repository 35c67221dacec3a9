/**
 * containerd's filter grammar for List/Walk (github.com/containerd/containerd/filters:
 * scanner.go = filter-scanner.ts, parser.go = filter-parser.ts, quote.go = filter-unquote.ts,
 * filter.go = this file), ported rune for rune, with the snapshot fields of `adaptSnapshot`
 * (snapshots/storage/bolt.go):
 *
 * ```
 * selectors := selector ("," selector)*           every selector must match (AND)
 * selector  := fieldpath (operator value)?        no operator: the field is present
 * fieldpath := field ("." field)*                 field: [A-Za-z0-9_]+ | "quoted"
 * operator  := "==" | "!=" | "~="                 ~= is a regular expression (may be /quoted/ or |quoted|)
 * value     := quoted | [^\s,]+
 * ```
 * Fields: `name`, `parent` (present even when ''), `kind` (`active`|`view`|`committed`),
 * `labels.<key>` (the rest of the path joined with "."; `labels."containerd.io/gc.root"`).
 * Several filter strings are ORed; an empty list, or any empty string, matches everything.
 *
 * Deliberate differences: containerd compiles `~=` lazily and a bad expression silently
 * matches nothing; here it is an InvalidArgumentError when the filter is parsed. And a filter
 * over the bounds of `filter-limits.ts` (total size, selectors, regex size) is refused with
 * InvalidArgumentError naming the bound; containerd has none. Errors echo the filter cut to
 * a window around the error (core/text/truncate.ts).
 *
 * `~=` is RE2, as in containerd (Go `regexp.Compile`, unanchored `MatchString`), through
 * re2js, a pure-JS port of RE2/J: no backtracking, matching time linear in the subject (at
 * most program x subject steps), so no expression can freeze the event loop the way a
 * backtracking JS RegExp does with `^(a+)+$`. The syntax is RE2's in both: Perl classes,
 * `[[:alpha:]]`, `\pL`, `\Q…\E`, `(?i)`/`(?m)`/`(?s)`/`(?U)` flag groups, `(?P<name>…)`
 * and `(?<name>…)`; no backreferences, lookaround, `\C` or `\Z` (all refused by Go too).
 * Differences from Go: re2js matches UTF-16 strings by code point where Go matches UTF-8
 * bytes, which differ only for invalid UTF-8 (protobuf strings are valid UTF-8), and re2js's
 * optional lookbehind extension is not enabled.
 */
import { InvalidArgumentError } from './errors.js';
import { DEFAULT_FILTER_LIMITS, type FilterLimits } from './filter-limits.js';
import { Parser, type Selector } from './filter-parser.js';
import type { Info, SnapshotFilter } from './snapshotter.js';

/**
 * A parsed List filter. `match` is the whole filter. `prefilter` is a superset that skips the
 * `~=` selectors (it is what backends get: cheap to call in a loop), and `matchSliced` is the
 * whole filter evaluated with `pause()` awaited before each `~=` selector, so the caller can
 * yield to the event loop while a long List is matched.
 */
export interface ParsedFilter extends SnapshotFilter {
  /** True when some selector is a `~=` regular expression. */
  readonly hasRegex: boolean;
  readonly prefilter: SnapshotFilter;
  matchSliced(info: Info, pause: () => Promise<void> | undefined): Promise<boolean>;
}

/**
 * Compile the filter strings of a List request. InvalidArgumentError names the bad filter
 * (cut to a window around the error) or the bound of `limits` it goes over.
 */
export function parseFilters(filters: readonly string[], limits: FilterLimits = DEFAULT_FILTER_LIMITS): ParsedFilter {
  if (!Array.isArray(filters) || filters.some((f) => typeof f !== 'string')) {
    throw new InvalidArgumentError('filters: expected an array of strings');
  }
  const source = Object.freeze([...filters]);
  const bytes = source.reduce((n, f) => n + Buffer.byteLength(f), 0);
  if (bytes > limits.maxFilterBytes) {
    throw new InvalidArgumentError(`filters are ${bytes} bytes in all, more than the maximum of ${limits.maxFilterBytes} bytes (maxFilterBytes)`);
  }
  if (source.length === 0 || source.includes('')) {
    const all: SnapshotFilter = { source, match: () => true };
    return { ...all, hasRegex: false, prefilter: all, matchSliced: () => Promise.resolve(true) };
  }
  const budget = { selectors: 0, limits };
  const any = source.map((f) => new Parser(f, budget).parse());
  const hasRegex = any.some((all) => all.some((s) => s.op === '~='));
  const match = (info: Info) => any.some((all) => all.every((s) => matchSelector(s, info)));
  const prefilter: SnapshotFilter = hasRegex ? { source, match: (info) => any.some((all) => all.every((s) => s.op === '~=' || matchSelector(s, info))) } : { source, match };
  return {
    source,
    match,
    hasRegex,
    prefilter,
    async matchSliced(info, pause) {
      for (const all of any) {
        let ok = true;
        for (const s of all) {
          if (s.op === '~=') {
            const p = pause();
            if (p) await p;
          }
          if (!matchSelector(s, info)) {
            ok = false;
            break;
          }
        }
        if (ok) return true;
      }
      return false;
    },
  };
}

function matchSelector(s: Selector, info: Info): boolean {
  const [value, present] = field(info, s.fieldpath);
  switch (s.op) {
    case 'present':
      return present;
    case '==':
      return present && value === s.value;
    case '!=':
      return value !== s.value;
    case '~=':
      return s.re!.test(value); // unanchored, like Go's MatchString
  }
}

/** containerd's adaptSnapshot: the value of a field path and whether it is present. */
function field(info: Info, path: readonly string[]): [string, boolean] {
  switch (path[0]) {
    case 'kind':
      return info.kind === 'active' || info.kind === 'view' || info.kind === 'committed' ? [info.kind, true] : ['', false];
    case 'name':
      return [info.name, true];
    case 'parent':
      return [info.parent, true];
    case 'labels': {
      const key = path.slice(1).join('.');
      return Object.prototype.hasOwnProperty.call(info.labels, key) ? [info.labels[key]!, true] : ['', false];
    }
    default:
      return ['', false];
  }
}
