/**
 * containerd's filter grammar for List/Walk (github.com/containerd/containerd/filters:
 * scanner.go, parser.go, quote.go, filter.go), ported rune for rune, with the snapshot fields
 * of `adaptSnapshot` (snapshots/storage/bolt.go):
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
import { RE2JS } from 're2js';
import { InvalidArgumentError } from './errors.js';
import { quoteInput, truncateInput } from '../text/truncate.js';
import { DEFAULT_FILTER_LIMITS, type FilterLimits } from './filter-limits.js';
import type { Info, SnapshotFilter } from './snapshotter.js';

type Operator = 'present' | '==' | '!=' | '~=';
interface Selector {
  fieldpath: string[];
  op: Operator;
  value: string;
  re?: RE2JS;
}
/** One filter string: all selectors must match. */
type Conjunction = Selector[];

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

// ---- scanner (scanner.go) -----------------------------------------------------------------

const EOF = -1;
const ILLEGAL = -2;
type Token = 'eof' | 'illegal' | 'quoted' | 'separator' | 'operator' | 'value' | 'field' | 'char';

const isQuote = (c: number) => c === 0x2f /* / */ || c === 0x7c /* | */ || c === 0x22; /* " */
const isSeparator = (c: number) => c === 0x2c /* , */ || c === 0x2e; /* . */
const isOperator = (c: number) => c === 0x3d /* = */ || c === 0x21 /* ! */ || c === 0x7e; /* ~ */
const isField = (c: number) => c === 0x5f || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
const isSpace = (c: number) => c >= 0 && c !== 0xfeff && (c === 0x85 || /\s/u.test(String.fromCodePoint(c)));
const isValue = (c: number) => c >= 0 && c !== 0x2c && !isSpace(c) && /[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u.test(String.fromCodePoint(c));

const SIMPLE_ESCAPE_RUNES: ReadonlySet<number> = new Set([...'abfnrtv\\'].map((ch) => ch.charCodeAt(0)));

function digitVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return 16;
}

class Scanner {
  pos = 0; // start of the current rune
  ppos = 0; // end of the current rune
  inValue = false; // the last token was an operator
  err = '';

  constructor(readonly input: string) {}

  next(): number {
    if (this.ppos >= this.input.length) {
      this.pos = this.input.length;
      return EOF;
    }
    this.pos = this.ppos;
    const c = this.input.codePointAt(this.ppos)!;
    this.ppos += c > 0xffff ? 2 : 1;
    if (c === 0) {
      this.error('unexpected null');
      return ILLEGAL;
    }
    return c;
  }

  peek(): number {
    const { pos, ppos } = this;
    const c = this.next();
    this.pos = pos;
    this.ppos = ppos;
    return c;
  }

  scan(): [pos: number, tok: Token, text: string] {
    let c = this.next();
    let pos = this.pos;
    for (;;) {
      if (c === EOF) return [this.pos, 'eof', ''];
      if (c === ILLEGAL) return [this.pos, 'illegal', ''];
      if (isQuote(c)) {
        const ok = this.scanQuoted(c);
        return [pos, ok ? 'quoted' : 'illegal', this.input.slice(pos, this.ppos)];
      }
      if (isSeparator(c)) {
        this.inValue = false;
        return [pos, 'separator', this.input.slice(pos, this.ppos)];
      }
      if (isOperator(c)) {
        while (isOperator(this.peek())) this.next();
        this.inValue = true;
        return [pos, 'operator', this.input.slice(pos, this.ppos)];
      }
      if (isSpace(c)) {
        c = this.next();
        pos = this.pos;
        continue;
      }
      if (this.inValue) {
        while (isValue(this.peek())) this.next();
        this.inValue = false;
        return [pos, 'value', this.input.slice(pos, this.ppos)];
      }
      if (isField(c)) {
        while (isField(this.peek())) this.next();
        return [pos, 'field', this.input.slice(pos, this.ppos)];
      }
      return [this.pos, 'char', String.fromCodePoint(c)];
    }
  }

  private scanQuoted(quote: number): boolean {
    let illegal = false;
    let c = this.next();
    while (c !== quote) {
      if (c === 0x0a || c < 0) {
        this.error('quoted literal not terminated');
        return false;
      }
      if (c === 0x5c /* \ */) {
        let legal: boolean;
        [c, legal] = this.scanEscape(quote);
        if (!legal) illegal = true;
      } else {
        c = this.next();
      }
    }
    return !illegal;
  }

  private scanEscape(quote: number): [number, boolean] {
    const c = this.next();
    if (SIMPLE_ESCAPE_RUNES.has(c) || c === quote) return [this.next(), true];
    if (c >= 0x30 && c <= 0x37) return this.scanDigits(c, 8, 3);
    if (c === 0x78 /* x */) return this.scanDigits(this.next(), 16, 2);
    if (c === 0x75 /* u */) return this.scanDigits(this.next(), 16, 4);
    if (c === 0x55 /* U */) return this.scanDigits(this.next(), 16, 8);
    this.error('illegal escape sequence');
    return [c, false];
  }

  private scanDigits(c: number, base: number, n: number): [number, boolean] {
    while (n > 0 && digitVal(c) < base) {
      c = this.next();
      n--;
    }
    if (n > 0) {
      this.error('illegal numeric escape sequence');
      return [c, false];
    }
    return [c, true];
  }

  private error(msg: string): void {
    if (this.err === '') this.err = msg;
  }
}

// ---- parser (parser.go) -------------------------------------------------------------------

/** What the selectors of one request may still use (shared by its filter strings). */
interface Budget {
  selectors: number;
  readonly limits: FilterLimits;
}

class Parser {
  private readonly scanner: Scanner;

  constructor(
    private readonly input: string,
    private readonly budget: Budget,
  ) {
    this.scanner = new Scanner(input);
  }

  parse(): Conjunction {
    const all = [this.selector()];
    for (;;) {
      const c = this.scanner.peek();
      if (c === EOF) return all;
      if (c !== 0x2c /* , */) {
        throw this.error(this.scanner.ppos, `unexpected input: ${c < 0 ? '\ufffd' : String.fromCodePoint(c)}`);
      }
      const [pos, tok] = this.scanner.scan();
      if (tok !== 'separator') throw this.error(pos, 'expected a separator');
      all.push(this.selector());
    }
  }

  private selector(): Selector {
    const max = this.budget.limits.maxFilterSelectors;
    if (++this.budget.selectors > max) {
      throw new InvalidArgumentError(`filters have more than the maximum of ${max} selectors (maxFilterSelectors)`);
    }
    const fieldpath = this.fieldpath();
    const c = this.scanner.peek();
    if (c === 0x2c || c === EOF) return { fieldpath, op: 'present', value: '' };
    const op = this.operator();
    const [valuePos, value] = this.value(op === '~=');
    if (op !== '~=') return { fieldpath, op, value };
    return { fieldpath, op, value, re: this.regexp(valuePos, value) };
  }

  private fieldpath(): string[] {
    const path = [this.field()];
    while (this.scanner.peek() === 0x2e /* . */) {
      const [pos, tok] = this.scanner.scan();
      if (tok !== 'separator') throw this.error(pos, 'expected a field separator (`.`)');
      path.push(this.field());
    }
    return path;
  }

  private field(): string {
    const [pos, tok, text] = this.scanner.scan();
    if (tok === 'field') return text;
    if (tok === 'quoted') return this.unquote(pos, text, false);
    if (tok === 'illegal') throw this.error(pos, this.scanner.err);
    throw this.error(pos, 'expected field or quoted');
  }

  private operator(): Exclude<Operator, 'present'> {
    const [pos, tok, text] = this.scanner.scan();
    if (tok === 'operator') {
      if (text === '==' || text === '!=' || text === '~=') return text;
      throw this.error(pos, `unsupported operator ${quoteInput(text, 16)}`);
    }
    if (tok === 'illegal') throw this.error(pos, this.scanner.err);
    throw this.error(pos, 'expected an operator ("=="|"!="|"~=")');
  }

  private value(allowAltQuotes: boolean): [number, string] {
    const [pos, tok, text] = this.scanner.scan();
    if (tok === 'value' || tok === 'field') return [pos, text];
    if (tok === 'quoted') return [pos, this.unquote(pos, text, allowAltQuotes)];
    if (tok === 'illegal') throw this.error(pos, this.scanner.err);
    throw this.error(pos, 'expected value or quoted');
  }

  private unquote(pos: number, text: string, allowAlts: boolean): string {
    if (!allowAlts && text[0] !== "'" && text[0] !== '"') throw this.error(pos, 'invalid quote encountered');
    try {
      return unquote(text);
    } catch (err) {
      throw this.error(pos, `unquoting failed: ${(err as Error).message}`);
    }
  }

  /** RE2, as Go's `regexp.Compile`, within the size bounds. */
  private regexp(pos: number, source: string): RE2JS {
    const { maxRegexBytes, maxRegexInstructions } = this.budget.limits;
    const bytes = Buffer.byteLength(source);
    if (bytes > maxRegexBytes) {
      throw this.error(pos, `regular expression is ${bytes} bytes, more than the maximum of ${maxRegexBytes} (maxRegexBytes)`);
    }
    let re: RE2JS;
    try {
      re = RE2JS.compile(source);
    } catch (err) {
      throw this.error(pos, `invalid regular expression ${quoteInput(source, 64)}: ${truncateInput((err as Error).message, 128)}`);
    }
    const size = re.programSize();
    if (size > maxRegexInstructions) {
      throw this.error(pos, `regular expression compiles to ${size} instructions, more than the maximum of ${maxRegexInstructions} (maxRegexInstructions)`);
    }
    return re;
  }

  /** containerd's parse error, `[before >|at|< after]`, with before and after cut to ERROR_CONTEXT characters. */
  private error(pos: number, msg: string): InvalidArgumentError {
    const s = this.input;
    const more = (n: number) => (n > 0 ? `…(${n} more)` : '');
    if (pos < s.length) {
      const width = (s.codePointAt(pos) ?? 0) > 0xffff ? 2 : 1;
      const from = Math.max(0, pos - ERROR_CONTEXT);
      const to = Math.min(s.length, pos + width + ERROR_CONTEXT);
      const before = `${from > 0 ? `(${from} more)…` : ''}${s.slice(from, pos)}`;
      const after = `${s.slice(pos + width, to)}${more(s.length - to)}`;
      return new InvalidArgumentError(`invalid filter: parse error at position ${pos}: [${before} >|${s.slice(pos, pos + width)}|< ${after}]: ${msg}`);
    }
    return new InvalidArgumentError(`invalid filter: parse error at end: [${truncateInput(s)}]: ${msg}`);
  }
}

/** Characters of the filter shown on each side of a parse error. */
const ERROR_CONTEXT = 64;

// ---- unquote (quote.go: strconv.Unquote that also accepts / and | as quotes) -------------

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c };

function unquote(s: string): string {
  const fail = () => new Error('quote syntax error');
  const quote = s[0];
  if (s.length < 2 || quote !== s[s.length - 1] || (quote !== '"' && quote !== '/' && quote !== '|')) throw fail();
  const body = s.slice(1, -1);
  if (body.includes('\n')) throw fail();
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  const pushRune = (cp: number) => bytes.push(...encoder.encode(String.fromCodePoint(cp)));
  for (let i = 0; i < body.length; ) {
    const cp = body.codePointAt(i)!;
    if (body[i] === quote) throw fail();
    if (body[i] !== '\\') {
      pushRune(cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const c = body[i + 1];
    if (c === undefined) throw fail();
    i += 2;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) {
      bytes.push(simple);
    } else if (c === 'x' || c === 'u' || c === 'U') {
      const n = c === 'x' ? 2 : c === 'u' ? 4 : 8;
      const hex = body.slice(i, i + n);
      if (hex.length < n || !/^[0-9a-fA-F]+$/.test(hex)) throw fail();
      const v = parseInt(hex, 16);
      i += n;
      if (c === 'x') bytes.push(v);
      else if (v > 0x10ffff) throw fail();
      else pushRune(v >= 0xd800 && v <= 0xdfff ? 0xfffd : v);
    } else if (c >= '0' && c <= '7') {
      const oct = c + body.slice(i, i + 2);
      if (!/^[0-7]{3}$/.test(oct)) throw fail();
      const v = parseInt(oct, 8);
      if (v > 255) throw fail();
      bytes.push(v);
      i += 2;
    } else if (c === quote) {
      bytes.push(c.charCodeAt(0));
    } else {
      throw fail();
    }
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}
