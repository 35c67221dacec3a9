/**
 * The tables of containerd's effective config as `containerd config dump` prints it, and the two
 * things `check-containerd` reads from them: the transfer service's unpack entries
 * (`[[plugins."io.containerd.transfer.v1.local".unpack_config]]`) and each proxy plugin's
 * `address`. Pure: config-dump.ts runs the command.
 *
 * Not a TOML parser: a reader of containerd's own output, which is regular (containerd 2.x
 * writes it with go-toml v2, 1.6 with go-toml v1): every table header on its own line,
 * `[[...]]` for an element of an array of tables, table names quoted with '...' (2.x) or "..."
 * (1.x) where needed, one `key = value` per line, strings single-quoted (literal) or
 * double-quoted (basic, with escapes). A table holds the string values of the lines under its
 * header up to the next header; other values (numbers, arrays, inline tables) are skipped. A
 * dump without unpack entries means containerd uses its default list (overlayfs only).
 */

export const TRANSFER_PLUGIN = 'io.containerd.transfer.v1.local';
/** The table an operator adds, as snaphost containerd-config writes it. */
export const UNPACK_CONFIG_TABLE = `[[plugins."${TRANSFER_PLUGIN}".unpack_config]]`;

export interface DumpTable {
  /** The header's dotted name, unquoted: `['plugins', 'io.containerd.transfer.v1.local', 'unpack_config']`. */
  path: string[];
  /** `[[...]]`: one element of an array of tables. */
  arrayElement: boolean;
  /** Its keys with string values. */
  strings: Record<string, string>;
}

export interface UnpackEntry {
  platform: string;
  snapshotter: string;
  differ: string;
}

const HEADER = /^\s*(\[\[?)\s*(.*?)\s*(\]\]?)\s*(#.*)?$/;
const KEY_VALUE = /^\s*([A-Za-z0-9_-]+)\s*=\s*(.*?)\s*$/;

export function dumpTables(text: string): DumpTable[] {
  const tables: DumpTable[] = [];
  let current: DumpTable | undefined;
  for (const line of text.split('\n')) {
    const kv = KEY_VALUE.exec(line);
    const h = kv ? null : HEADER.exec(line);
    if (h) {
      const path = splitDotted(h[2]!);
      current = path.length > 0 ? { path, arrayElement: h[1] === '[[' && h[3] === ']]', strings: {} } : undefined;
      if (current) tables.push(current);
      continue;
    }
    if (!current || !kv) continue;
    const value = tomlStringValue(kv[2]!);
    if (value !== undefined) current.strings[kv[1]!] = value;
  }
  return tables;
}

export function unpackEntries(tables: readonly DumpTable[]): UnpackEntry[] {
  return tables
    .filter((t) => t.arrayElement && t.path.length === 3 && t.path[0] === 'plugins' && t.path[1] === TRANSFER_PLUGIN && t.path[2] === 'unpack_config')
    .map((t) => ({ platform: t.strings['platform'] ?? '', snapshotter: t.strings['snapshotter'] ?? '', differ: t.strings['differ'] ?? '' }));
}

/** `[proxy_plugins.NAME]` → its `type` and `address`. */
export function proxyPlugins(tables: readonly DumpTable[]): Map<string, { type: string; address: string }> {
  const out = new Map<string, { type: string; address: string }>();
  for (const t of tables) {
    if (!t.arrayElement && t.path.length === 2 && t.path[0] === 'proxy_plugins') out.set(t.path[1]!, { type: t.strings['type'] ?? '', address: t.strings['address'] ?? '' });
  }
  return out;
}

/** A dotted TOML key into its parts, quotes removed; [] when malformed. */
function splitDotted(name: string): string[] {
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    while (name[i] === ' ') i++;
    const q = name[i];
    if (q === '"' || q === "'") {
      const m = (q === '"' ? /^"(?:[^"\\]|\\.)*"/ : /^'[^']*'/).exec(name.slice(i));
      if (!m) return [];
      parts.push(tomlStringValue(m[0]) ?? '');
      i += m[0].length;
      while (name[i] === ' ') i++;
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(name.slice(i));
      if (!m) return [];
      parts.push(m[0]);
      i += m[0].length;
      while (name[i] === ' ') i++;
    }
    if (i >= name.length) return parts;
    if (name[i] !== '.') return [];
    i++;
  }
}

/** A one-line TOML string value ('literal' or "basic"), a trailing comment allowed; undefined for anything else. */
function tomlStringValue(v: string): string | undefined {
  if (v.startsWith("'")) {
    const end = v.indexOf("'", 1);
    return end > 0 ? v.slice(1, end) : undefined;
  }
  if (v.startsWith('"')) {
    const m = /^"((?:[^"\\]|\\.)*)"/.exec(v);
    if (!m) return undefined;
    try {
      // TOML's \UXXXXXXXX has no JSON form; every other escape containerd writes is JSON's.
      const json = m[1]!.replace(/\\(?:U([0-9A-Fa-f]{8})|.)/g, (escape, hex?: string) => (hex ? JSON.stringify(String.fromCodePoint(parseInt(hex, 16))).slice(1, -1) : escape));
      return JSON.parse(`"${json}"`) as string;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
