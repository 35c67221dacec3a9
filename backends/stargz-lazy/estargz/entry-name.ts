/**
 * TOC entry names -> clean paths relative to the layer root ('' is the root itself).
 * `./a//b/../c/` becomes `a/c`. A name that climbs above the root (`../../etc/passwd`), holds
 * a NUL byte, or exceeds Linux's PATH_MAX / NAME_MAX is refused: a layer that tries it is
 * broken or hostile, and the FUSE layer could not present it anyway.
 */
import { MalformedEstargzError } from './errors.js';

const PATH_MAX = 4096;
const NAME_MAX = 255;
const SLASH = 0x2f;
const DOT = 0x2e;

/** The clean path of a TOC name; MalformedEstargzError when it is unsafe. */
export function normalizeEntryName(name: string): string {
  const fast = alreadyClean(name);
  if (fast !== undefined) return fast;
  const clean = cleanPath(name);
  if (typeof clean === 'string') return clean;
  throw new MalformedEstargzError(`entry name ${JSON.stringify(name.slice(0, 200))} ${clean.problem}`);
}

/** The clean path, or undefined when it is unsafe (for lookups by callers' paths). */
export function tryNormalizeEntryName(name: string): string | undefined {
  const fast = alreadyClean(name);
  if (fast !== undefined) return fast;
  const clean = cleanPath(name);
  return typeof clean === 'string' ? clean : undefined;
}

/**
 * The common case without splitting: `name` is already clean but for one trailing slash
 * (`usr/bin/`), short enough that neither it nor a component can exceed PATH_MAX / NAME_MAX
 * bytes (a UTF-16 unit is at most 3 UTF-8 bytes), and has no NUL, empty, `.` or `..` component.
 * Undefined: take the slow path. Native string searches, no JS char loop: this runs once per
 * entry while the JIT is still cold.
 */
function alreadyClean(name: string): string | undefined {
  if (name.length === 0 || name.length > PATH_MAX / 3) return undefined;
  const s = name.charCodeAt(name.length - 1) === SLASH ? name.slice(0, -1) : name;
  if (s.length === 0 || s.charCodeAt(0) === SLASH || s.charCodeAt(s.length - 1) === SLASH || s.includes('//') || s.includes('\0')) return undefined;
  if (s.charCodeAt(0) === DOT && (s === '.' || s === '..' || s.startsWith('./') || s.startsWith('../'))) return undefined;
  if (s.includes('/.') && (s.includes('/./') || s.includes('/../') || s.endsWith('/.') || s.endsWith('/..'))) return undefined;
  if (s.length > NAME_MAX / 3) {
    for (let start = 0; ; ) {
      const slash = s.indexOf('/', start);
      if ((slash < 0 ? s.length : slash) - start > NAME_MAX / 3) return undefined;
      if (slash < 0) break;
      start = slash + 1;
    }
  }
  return s;
}

function cleanPath(name: string): string | { problem: string } {
  if (name.includes('\0')) return { problem: 'contains a NUL byte' };
  if (Buffer.byteLength(name) > PATH_MAX) return { problem: `is longer than ${PATH_MAX} bytes` };
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return { problem: 'escapes the layer root' };
      parts.pop();
      continue;
    }
    if (Buffer.byteLength(part) > NAME_MAX) return { problem: `has a component longer than ${NAME_MAX} bytes` };
    parts.push(part);
  }
  return parts.join('/');
}

/** Parent path of a clean path ('' for top-level names). */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** Last component of a clean path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
