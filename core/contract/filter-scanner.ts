/**
 * The tokenizer of containerd's filter grammar (github.com/containerd/containerd/filters,
 * scanner.go), ported rune for rune; `filter-parser.ts` drives it. See `filters.ts` for the
 * grammar.
 */

export const EOF = -1;
const ILLEGAL = -2;
export type Token = 'eof' | 'illegal' | 'quoted' | 'separator' | 'operator' | 'value' | 'field' | 'char';

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

export class Scanner {
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
