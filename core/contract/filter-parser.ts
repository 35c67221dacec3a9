/**
 * The parser of containerd's filter grammar (github.com/containerd/containerd/filters,
 * parser.go), ported rune for rune: one filter string -> its selectors, within the bounds of
 * `filter-limits.ts`, `~=` compiled as RE2 here. See `filters.ts` for the grammar.
 */
import { RE2JS } from 're2js';
import { InvalidArgumentError } from './errors.js';
import { EOF, Scanner } from './filter-scanner.js';
import { unquote } from './filter-unquote.js';
import type { FilterLimits } from './filter-limits.js';
import { quoteInput, truncateInput } from '../text/truncate.js';

export type Operator = 'present' | '==' | '!=' | '~=';
export interface Selector {
  fieldpath: string[];
  op: Operator;
  value: string;
  re?: RE2JS;
}
/** One filter string: all selectors must match. */
export type Conjunction = Selector[];

/** What the selectors of one request may still use (shared by its filter strings). */
export interface Budget {
  selectors: number;
  readonly limits: FilterLimits;
}

export class Parser {
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
