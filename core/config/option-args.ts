/**
 * `--option key=value` flags (of `snaphost serve --backend …`) -> an options object.
 * Values: `true`/`false` are booleans, decimal numbers are numbers, text starting with `{`,
 * `[` or `"` that parses as JSON is that JSON value (`'size="1024"'` keeps a string), anything
 * else is a string. Dotted keys nest: `cache.size=1g` -> `{ cache: { size: '1g' } }`.
 */
export class OptionArgError extends Error {}

const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

export function parseOptionValue(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (NUMBER.test(text)) return Number(text);
  if (/^[[{"]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

export function parseOptionArgs(args: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new OptionArgError(`--option ${JSON.stringify(arg)}: expected key=value`);
    const path = arg.slice(0, eq).split('.');
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      throw new OptionArgError(`--option ${JSON.stringify(arg)}: invalid key`);
    }
    let node = out;
    for (const [i, key] of path.entries()) {
      const last = i === path.length - 1;
      const existing = node[key];
      if (last) {
        if (existing !== undefined) throw new OptionArgError(`--option ${path.join('.')} is given more than once (or conflicts with a nested key)`);
        node[key] = parseOptionValue(arg.slice(eq + 1));
      } else {
        if (existing === undefined) node[key] = {};
        else if (typeof existing !== 'object' || existing === null || Array.isArray(existing)) {
          throw new OptionArgError(`--option ${path.join('.')}: ${path.slice(0, i + 1).join('.')} is already set to a value`);
        }
        node = node[key] as Record<string, unknown>;
      }
    }
  }
  return out;
}
