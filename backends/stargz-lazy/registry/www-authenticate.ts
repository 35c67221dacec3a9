/**
 * Parser of `WWW-Authenticate` headers (RFC 9110 §11.6.1): one or more challenges, each a scheme
 * followed by comma-separated `name=value` parameters whose values are tokens or quoted
 * strings with backslash escapes, e.g.
 * `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app:pull"`.
 */

export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  scheme: string;
  /** Parameters with lower-cased names. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Every challenge in the header values; malformed tails are dropped, never thrown on. */
export function parseWwwAuthenticate(values: string | string[] | undefined): Challenge[] {
  if (values === undefined) return [];
  const list = Array.isArray(values) ? values : [values];
  return list.flatMap(parseOne);
}

function parseOne(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let rest = header;
  let current: Challenge | undefined;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, '');
    if (rest === '') break;
    const token = TOKEN.exec(rest)?.[0];
    if (token === undefined) break;
    const after = rest.slice(token.length).replace(/^\s+/, '');
    if (after.startsWith('=') && current !== undefined && !/^=+\s*(?:,|$)/.test(after)) {
      // name=value parameter of the current challenge
      rest = after.slice(1).replace(/^\s+/, '');
      let value: string;
      if (rest.startsWith('"')) {
        const parsed = quoted(rest);
        if (parsed === undefined) break;
        [value, rest] = parsed;
      } else {
        const v = TOKEN.exec(rest)?.[0];
        if (v === undefined) break;
        value = v;
        rest = rest.slice(v.length);
      }
      current.params[token.toLowerCase()] = value;
      continue;
    }
    // A new challenge: scheme, optionally followed by a token68 (ignored).
    current = { scheme: token.toLowerCase(), params: {} };
    challenges.push(current);
    rest = after;
    const token68 = /^[A-Za-z0-9\-._~+/]+=*\s*(?=,|$)/.exec(rest);
    if (token68 !== null) rest = rest.slice(token68[0].length);
  }
  return challenges;
}

/** A quoted string at the start of `s`: its unescaped value and what follows, or undefined. */
function quoted(s: string): [string, string] | undefined {
  let value = '';
  for (let i = 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      value += s[++i];
    } else if (c === '"') {
      return [value, s.slice(i + 1)];
    } else {
      value += c;
    }
  }
  return undefined;
}
