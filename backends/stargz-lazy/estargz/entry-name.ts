/**
 * TOC entry names -> clean paths relative to the layer root ('' is the root itself).
 * `./a//b/../c/` becomes `a/c`. A name that climbs above the root (`../../etc/passwd`), holds
 * a NUL byte, or exceeds Linux's PATH_MAX / NAME_MAX is refused: a layer that tries it is
 * broken or hostile, and the FUSE layer could not present it anyway.
 */
import { MalformedEstargzError } from './errors.js';

const PATH_MAX = 4096;
const NAME_MAX = 255;

/** The clean path of a TOC name; MalformedEstargzError when it is unsafe. */
export function normalizeEntryName(name: string): string {
  const clean = cleanPath(name);
  if (typeof clean === 'string') return clean;
  throw new MalformedEstargzError(`entry name ${JSON.stringify(name.slice(0, 200))} ${clean.problem}`);
}

/** The clean path, or undefined when it is unsafe (for lookups by callers' paths). */
export function tryNormalizeEntryName(name: string): string | undefined {
  const clean = cleanPath(name);
  return typeof clean === 'string' ? clean : undefined;
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
