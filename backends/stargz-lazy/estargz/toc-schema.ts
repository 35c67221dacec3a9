/**
 * The TOC (`stargz.index.json`) as the eStargz spec defines it, and its validation. Typed
 * fields are checked; unknown fields are tolerated (the spec's own example carries `NumLink`)
 * and ignored. Omitted fields mean zero / empty, as the Go writer omits them (`omitempty`).
 *
 * Hand-written rather than a zod schema: a TOC can hold a million entries and is validated in
 * fused on the path of every remote prepare; this check runs in ~1/5 of zod v4's time (and
 * without its one-off ~80 ms warm-up and ~35 ms module load in a freshly started fused).
 */
import { MalformedEstargzError } from './errors.js';

export const ENTRY_TYPES = ['dir', 'reg', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'chunk'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export interface TocEntry {
  name: string;
  type: EntryType;
  /** Uncompressed size of a regular file. */
  size?: number;
  /** RFC 3339 UTC modification time; empty or absent means zero. */
  modtime?: string;
  /** Target of a symlink or hardlink. */
  linkName?: string;
  /** tar mode: permission bits, setuid/setgid/sticky, sometimes the file type bits too. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Present only on the first entry of each uid/gid; the reader fills the others. */
  userName?: string;
  groupName?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes; values are bytes, base64 in JSON. */
  xattrs?: Record<string, string>;
  /** Digest of the whole regular file. */
  digest?: string;
  /** Offset in the blob of the gzip member holding this reg/chunk's data. */
  offset?: number;
  /** Uncompressed offset of the data inside the stream that starts at `offset`. */
  innerOffset?: number;
  /** Offset of this chunk in the file. */
  chunkOffset?: number;
  /** Uncompressed bytes of this chunk; 0 or absent for the last (or only) one: "to the end". */
  chunkSize?: number;
  /** Digest of this chunk's uncompressed bytes. */
  chunkDigest?: string;
}

export interface Toc {
  version: 1;
  entries: TocEntry[];
}

/** One problem found, with the JSON path of the value (`entries[3].offset`). */
export interface TocIssue {
  path: readonly (string | number)[];
  message: string;
}

const TYPES = new Set<string>(ENTRY_TYPES);
/** The digests go-digest accepts (see `digest.ts`). A RegExp: faster than a JS char loop while the JIT is cold. */
const DIGEST_RE = /^(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Enough to say what is wrong without building a list as long as a hostile TOC. */
const MAX_ISSUES = 20;
const OFFSET = 'expected a non-negative integer';
const U32 = 'expected an integer in [0, 2^32)';
const STRING = 'expected a string';
const DIGEST = 'expected a digest like sha256:<64 lowercase hex>';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isOffset = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
const isU32 = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff_ffff;
const isDigest = (v: unknown) => typeof v === 'string' && DIGEST_RE.test(v);

/**
 * The typed TOC of parsed JSON `raw`, or the problems found (at most 20; `more`: there were
 * others). The entries are checked in place, not copied: a TOC is parsed, checked, indexed and
 * dropped, and copying thousands of entries cost more than the checks.
 */
export function validateToc(raw: unknown): { toc: Toc } | { issues: TocIssue[]; more: boolean } {
  const issues: TocIssue[] = [];
  let more = false;
  const issue = (path: (string | number)[], message: string) => {
    if (issues.length < MAX_ISSUES) issues.push({ path, message });
    else more = true;
  };
  if (!isObject(raw)) return { issues: [{ path: [], message: 'expected an object' }], more };
  if (raw.version !== 1) issue(['version'], 'expected 1');
  const entries = raw.entries;
  if (!Array.isArray(entries)) {
    issue(['entries'], 'expected an array');
    return { issues, more };
  }
  for (let i = 0; i < entries.length; i++) {
    const e: unknown = entries[i];
    if (!isObject(e)) {
      issue(['entries', i], 'expected an object');
      continue;
    }
    if (typeof e.name !== 'string') issue(['entries', i, 'name'], STRING);
    if (typeof e.type !== 'string' || !TYPES.has(e.type)) issue(['entries', i, 'type'], `expected one of ${ENTRY_TYPES.join(', ')}`);
    if (e.size !== undefined && !isOffset(e.size)) issue(['entries', i, 'size'], OFFSET);
    if (e.offset !== undefined && !isOffset(e.offset)) issue(['entries', i, 'offset'], OFFSET);
    if (e.innerOffset !== undefined && !isOffset(e.innerOffset)) issue(['entries', i, 'innerOffset'], OFFSET);
    if (e.chunkOffset !== undefined && !isOffset(e.chunkOffset)) issue(['entries', i, 'chunkOffset'], OFFSET);
    if (e.chunkSize !== undefined && !isOffset(e.chunkSize)) issue(['entries', i, 'chunkSize'], OFFSET);
    if (e.mode !== undefined && !isU32(e.mode)) issue(['entries', i, 'mode'], U32);
    if (e.uid !== undefined && !isU32(e.uid)) issue(['entries', i, 'uid'], U32);
    if (e.gid !== undefined && !isU32(e.gid)) issue(['entries', i, 'gid'], U32);
    if (e.devMajor !== undefined && !isU32(e.devMajor)) issue(['entries', i, 'devMajor'], U32);
    if (e.devMinor !== undefined && !isU32(e.devMinor)) issue(['entries', i, 'devMinor'], U32);
    if (e.modtime !== undefined && typeof e.modtime !== 'string') issue(['entries', i, 'modtime'], STRING);
    if (e.linkName !== undefined && typeof e.linkName !== 'string') issue(['entries', i, 'linkName'], STRING);
    if (e.userName !== undefined && typeof e.userName !== 'string') issue(['entries', i, 'userName'], STRING);
    if (e.groupName !== undefined && typeof e.groupName !== 'string') issue(['entries', i, 'groupName'], STRING);
    if (e.digest !== undefined && !isDigest(e.digest)) issue(['entries', i, 'digest'], DIGEST);
    if (e.chunkDigest !== undefined && !isDigest(e.chunkDigest)) issue(['entries', i, 'chunkDigest'], DIGEST);
    if (e.xattrs !== undefined) {
      if (!isObject(e.xattrs)) issue(['entries', i, 'xattrs'], 'expected an object');
      else {
        for (const [k, v] of Object.entries(e.xattrs)) {
          if (typeof v !== 'string' || !BASE64_RE.test(v)) issue(['entries', i, 'xattrs', k], 'expected base64');
        }
      }
    }
  }
  if (issues.length > 0) return { issues, more };
  return { toc: { version: 1, entries: entries as TocEntry[] } };
}

/** `validateToc`, throwing MalformedEstargzError (`TOC JSON: entries[0].type: expected …`) on the first problems. */
export function checkToc(raw: unknown): Toc {
  const r = validateToc(raw);
  if ('toc' in r) return r.toc;
  const shown = r.issues.slice(0, 3).map((i) => `${formatPath(i.path)}: ${i.message}`);
  const hidden = r.issues.length - shown.length;
  throw new MalformedEstargzError(`TOC JSON: ${shown.join('; ')}${hidden > 0 || r.more ? ` (and ${r.more ? 'more than ' : ''}${hidden} more)` : ''}`);
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}
