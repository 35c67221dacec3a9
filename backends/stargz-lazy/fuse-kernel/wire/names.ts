/**
 * File and xattr names on the wire: NUL-terminated in requests, counted in dirents. A file name is
 * 1..255 bytes, without '/' or NUL: anything else is refused here, so no handler ever sees a name
 * that could walk out of its directory.
 */
import { NAME_MAX, XATTR_NAME_MAX } from './opcodes.js';
import { WireError } from './wire-error.js';

const SLASH = 0x2f;

/**
 * The NUL-terminated string at `start` of `bytes` (which ends where the request's body ends).
 * `kind` 'file' refuses '/', empty names and names over NAME_MAX; 'xattr' refuses empty names and
 * names over XATTR_NAME_MAX. Returns the string and the offset just past its NUL.
 */
export function readCString(
  bytes: Buffer,
  start: number,
  end: number,
  kind: 'file' | 'xattr',
): { name: string; next: number } {
  const max = kind === 'file' ? NAME_MAX : XATTR_NAME_MAX;
  const limit = Math.min(end, start + max + 1);
  let nul = -1;
  for (let i = start; i < limit; i++) {
    const b = bytes[i];
    if (b === 0) {
      nul = i;
      break;
    }
    if (b === SLASH && kind === 'file') throw new WireError(`${kind} name contains '/'`);
  }
  if (nul < 0) {
    throw new WireError(
      limit - start > max ? `${kind} name longer than ${max} bytes` : `${kind} name not NUL-terminated`,
    );
  }
  if (nul === start) throw new WireError(`${kind} name is empty`);
  return { name: bytes.toString('utf8', start, nul), next: nul + 1 };
}

/** The bytes of a name a reply carries (a dirent), checked like a request's file name. */
export function fileNameBytes(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0) throw new WireError('file name is empty');
  if (bytes.length > NAME_MAX) throw new WireError(`file name longer than ${NAME_MAX} bytes`);
  if (bytes.includes(0)) throw new WireError('file name contains NUL');
  if (bytes.includes(SLASH)) throw new WireError("file name contains '/'");
  return bytes;
}
