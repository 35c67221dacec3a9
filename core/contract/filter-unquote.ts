/** containerd's filters/quote.go: Go's strconv.Unquote that also accepts / and | as quotes. */

const SIMPLE_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c };

export function unquote(s: string): string {
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
