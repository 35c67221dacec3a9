/**
 * Decoding of the requests the kernel writes on /dev/fuse: a fuse_in_header (40 bytes) and the
 * opcode's body. The result is a union discriminated on `opcode`, holding only copies (strings,
 * numbers, bigints), so the device's read buffer may be reused as soon as this returns.
 *
 * Checked: the header's length equals the bytes read; the body holds the opcode's struct; names are
 * NUL-terminated, 1..255 bytes, without '/'; a BATCH_FORGET count fits the body; offsets fit in
 * 2^53. Work and allocation are bounded by the request length. Opcodes a read-only file system does
 * not serve decode as `{ unsupported: true }` (the session answers ENOSYS).
 */
import { SIZE } from './layout.js';
import { readCString } from './names.js';
import { FUSE_UNIQUE_RESEND, INIT, OP, opName } from './opcodes.js';
import { WireError } from './wire-error.js';

export interface RequestHeader {
  /** As the kernel sent it (with the resend bit when resent): replies echo it unchanged. */
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
  /** The kernel resent this request after a FUSE_NOTIFY_RESEND (the high bit of `unique`). */
  resend: boolean;
}

type Op<K extends keyof typeof OP, T = object> = RequestHeader & { opcode: (typeof OP)[K] } & T;
interface ReadFields {
  fh: bigint;
  offset: number;
  size: number;
  readFlags: number;
  lockOwner: bigint;
  /** The open(2) flags of the file. */
  flags: number;
}
interface ReleaseFields {
  fh: bigint;
  flags: number;
  releaseFlags: number;
  lockOwner: bigint;
}

export type LookupRequest = Op<'LOOKUP', { name: string }>;
export type ForgetRequest = Op<'FORGET', { nlookup: bigint }>;
export type GetattrRequest = Op<'GETATTR', { getattrFlags: number; fh: bigint }>;
export type ReadlinkRequest = Op<'READLINK'>;
export type OpenRequest = Op<'OPEN', { flags: number; openFlags: number }>;
export type ReadRequest = Op<'READ', ReadFields>;
export type StatfsRequest = Op<'STATFS'>;
export type ReleaseRequest = Op<'RELEASE', ReleaseFields>;
export type GetxattrRequest = Op<'GETXATTR', { name: string; size: number }>;
export type ListxattrRequest = Op<'LISTXATTR', { size: number }>;
export type FlushRequest = Op<'FLUSH', { fh: bigint; lockOwner: bigint }>;
export type InitRequest = Op<'INIT', { major: number; minor: number; maxReadahead: number; flags: bigint }>;
export type OpendirRequest = Op<'OPENDIR', { flags: number; openFlags: number }>;
export type ReaddirRequest = Op<'READDIR', ReadFields>;
export type ReaddirplusRequest = Op<'READDIRPLUS', ReadFields>;
export type ReleasedirRequest = Op<'RELEASEDIR', ReleaseFields>;
export type AccessRequest = Op<'ACCESS', { mask: number }>;
/** `interrupted`: the unique of the request to interrupt. */
export type InterruptRequest = Op<'INTERRUPT', { interrupted: bigint }>;
export type DestroyRequest = Op<'DESTROY'>;
export type BatchForgetRequest = Op<'BATCH_FORGET', { forgets: { nodeid: bigint; nlookup: bigint }[] }>;
export type UnsupportedRequest = RequestHeader & { opcode: number; unsupported: true };

export type Request =
  | LookupRequest
  | ForgetRequest
  | GetattrRequest
  | ReadlinkRequest
  | OpenRequest
  | ReadRequest
  | StatfsRequest
  | ReleaseRequest
  | GetxattrRequest
  | ListxattrRequest
  | FlushRequest
  | InitRequest
  | OpendirRequest
  | ReaddirRequest
  | ReaddirplusRequest
  | ReleasedirRequest
  | AccessRequest
  | InterruptRequest
  | DestroyRequest
  | BatchForgetRequest
  | UnsupportedRequest;

/** A request the session serves (every member of the union but the unsupported one). */
export type SupportedRequest = Exclude<Request, UnsupportedRequest>;

/** Reads the body of one request: offsets relative to the body, every read checked against its end. */
class Body {
  constructor(
    readonly bytes: Buffer,
    readonly start: number,
    readonly end: number,
    readonly what: string,
  ) {}
  get length(): number {
    return this.end - this.start;
  }
  need(n: number, struct: string): void {
    if (this.length < n) throw new WireError(`${this.what}: body of ${this.length} bytes is shorter than ${struct} (${n})`);
  }
  u32(at: number): number {
    return this.bytes.readUInt32LE(this.start + at);
  }
  u64(at: number): bigint {
    return this.bytes.readBigUInt64LE(this.start + at);
  }
  /** A u64 that must fit in a JS number (an offset or a size). */
  safe(at: number, field: string): number {
    const v = this.u64(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError(`${this.what}: ${field} ${v} exceeds 2^53`);
    return Number(v);
  }
}

function readFields(b: Body): ReadFields {
  b.need(SIZE.READ_IN, 'fuse_read_in');
  return {
    fh: b.u64(0),
    offset: b.safe(8, 'offset'),
    size: b.u32(16),
    readFlags: b.u32(20),
    lockOwner: b.u64(24),
    flags: b.u32(32),
  };
}

function releaseFields(b: Body): ReleaseFields {
  b.need(SIZE.RELEASE_IN, 'fuse_release_in');
  return { fh: b.u64(0), flags: b.u32(8), releaseFlags: b.u32(12), lockOwner: b.u64(16) };
}

function openFields(b: Body): { flags: number; openFlags: number } {
  b.need(SIZE.OPEN_IN, 'fuse_open_in');
  return { flags: b.u32(0), openFlags: b.u32(4) };
}

function initFields(b: Body): { major: number; minor: number; maxReadahead: number; flags: bigint } {
  b.need(SIZE.INIT_IN_COMPAT, 'fuse_init_in');
  let flags = BigInt(b.u32(12));
  // flags2 exists since 7.36 and counts only when the kernel sets INIT_EXT.
  if ((flags & INIT.INIT_EXT) !== 0n && b.length >= 20) flags |= BigInt(b.u32(16)) << 32n;
  return { major: b.u32(0), minor: b.u32(4), maxReadahead: b.u32(8), flags };
}

function batchForget(b: Body): { forgets: { nodeid: bigint; nlookup: bigint }[] } {
  b.need(SIZE.BATCH_FORGET_IN, 'fuse_batch_forget_in');
  const count = b.u32(0);
  const room = Math.floor((b.length - SIZE.BATCH_FORGET_IN) / SIZE.FORGET_ONE);
  if (count > room) throw new WireError(`${b.what}: count ${count} exceeds the ${room} entries the body holds`);
  const forgets: { nodeid: bigint; nlookup: bigint }[] = [];
  for (let i = 0, at = SIZE.BATCH_FORGET_IN; i < count; i++, at += SIZE.FORGET_ONE) {
    forgets.push({ nodeid: b.u64(at), nlookup: b.u64(at + 8) });
  }
  return { forgets };
}

/**
 * The name that ends the body: the kernel sends exactly the name and its NUL, so bytes after the
 * NUL (a name with a NUL inside) are refused.
 */
function lastName(b: Body, from: number, kind: 'file' | 'xattr'): string {
  const { name, next } = readCString(b.bytes, from, b.end, kind);
  if (next !== b.end) throw new WireError(`${b.what}: ${b.end - next} bytes after the ${kind} name's NUL`);
  return name;
}

/** The op fields of a supported opcode, or undefined for one we do not serve. */
function body(opcode: number, b: Body): object | undefined {
  switch (opcode) {
    case OP.LOOKUP:
      return { name: lastName(b, b.start, 'file') };
    case OP.FORGET:
      b.need(SIZE.FORGET_IN, 'fuse_forget_in');
      return { nlookup: b.u64(0) };
    case OP.GETATTR:
      b.need(SIZE.GETATTR_IN, 'fuse_getattr_in');
      return { getattrFlags: b.u32(0), fh: b.u64(8) };
    case OP.READLINK:
    case OP.STATFS:
    case OP.DESTROY:
      return {};
    case OP.OPEN:
    case OP.OPENDIR:
      return openFields(b);
    case OP.READ:
    case OP.READDIR:
    case OP.READDIRPLUS:
      return readFields(b);
    case OP.RELEASE:
    case OP.RELEASEDIR:
      return releaseFields(b);
    case OP.GETXATTR: {
      b.need(SIZE.GETXATTR_IN, 'fuse_getxattr_in');
      const size = b.u32(0);
      return { size, name: lastName(b, b.start + SIZE.GETXATTR_IN, 'xattr') };
    }
    case OP.LISTXATTR:
      b.need(SIZE.GETXATTR_IN, 'fuse_getxattr_in');
      return { size: b.u32(0) };
    case OP.FLUSH:
      b.need(SIZE.FLUSH_IN, 'fuse_flush_in');
      return { fh: b.u64(0), lockOwner: b.u64(16) };
    case OP.INIT:
      return initFields(b);
    case OP.ACCESS:
      b.need(SIZE.ACCESS_IN, 'fuse_access_in');
      return { mask: b.u32(0) };
    case OP.INTERRUPT:
      b.need(SIZE.INTERRUPT_IN, 'fuse_interrupt_in');
      return { interrupted: b.u64(0) };
    case OP.BATCH_FORGET:
      return batchForget(b);
    default:
      return undefined;
  }
}

/** Decodes the first `length` bytes of `buf` (one message read from /dev/fuse). Throws WireError. */
export function decodeRequest(buf: Uint8Array, length: number): Request {
  if (!Number.isInteger(length) || length < 0 || length > buf.length) {
    throw new WireError(`request length ${length} outside the buffer of ${buf.length} bytes`);
  }
  if (length < SIZE.IN_HEADER) throw new WireError(`request of ${length} bytes is shorter than fuse_in_header (40)`);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const opcode = b.readUInt32LE(4);
  const unique = b.readBigUInt64LE(8);
  const declared = b.readUInt32LE(0);
  if (declared !== length) {
    throw new WireError(`request header says ${declared} bytes, ${length} were read`, unique, opcode);
  }
  // Extension headers (security context, supplementary groups) trail the body, in 8-byte units.
  const extlen = b.readUInt16LE(36) * 8;
  const end = length - extlen;
  if (end < SIZE.IN_HEADER) throw new WireError(`extension headers of ${extlen} bytes exceed the request`, unique, opcode);
  const header: RequestHeader & { opcode: number } = {
    opcode,
    unique,
    nodeid: b.readBigUInt64LE(16),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
    resend: (unique & FUSE_UNIQUE_RESEND) !== 0n,
  };
  let fields: object | undefined;
  try {
    fields = body(opcode, new Body(b, SIZE.IN_HEADER, end, opName(opcode)));
  } catch (err) {
    if (err instanceof WireError) throw new WireError(err.message, unique, opcode);
    throw err;
  }
  if (fields === undefined) return Object.assign(header, { unsupported: true as const });
  return Object.assign(header, fields) as Request;
}
