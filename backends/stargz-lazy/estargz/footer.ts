/**
 * The footer at the very end of an eStargz blob: an empty gzip member whose Extra field holds
 * the offset of the TOC as 16 hex digits followed by `STARGZ`.
 *
 * ```
 * eStargz (51 bytes)                         legacy stargz (47 bytes)
 *  10  gzip header, FLG = FEXTRA              10  gzip header, FLG = FEXTRA
 *   2  XLEN = 26                               2  XLEN = 22
 *   4  subfield SI1='S' SI2='G' LEN=22        22  "%016x" TOC offset + "STARGZ" (no subfield header)
 *  22  "%016x" TOC offset + "STARGZ"           5  empty stored deflate block
 *   5  empty stored deflate block              8  CRC32 = 0, ISIZE = 0
 *   8  CRC32 = 0, ISIZE = 0
 * ```
 * Fetch the last `footerFetchSize(blobSize)` bytes (one Range request) and pass them to
 * `parseFooter`: a tail ending with the zstd:chunked magic is read as a zstd:chunked footer
 * (../zstdchunked/zstd-footer.ts), otherwise it tries the eStargz footer, then the legacy one,
 * and rejects anything else with NotEstargzError without looking at the rest of the blob.
 */
import { gunzipSync } from 'node:zlib';
import { InvalidArgumentError } from '../../../core/sdk.js';
import { hasZstdChunkedMagic, parseZstdFooter, ZSTD_STORAGE_FOOTER_SIZE, type ZstdFooter } from '../zstdchunked/zstd-footer.js';
import { MalformedEstargzError, NotEstargzError } from './errors.js';

export const FOOTER_SIZE = 51;
export const LEGACY_FOOTER_SIZE = 47;

export interface GzipFooter {
  format: 'estargz' | 'legacy-stargz';
  /** Bytes of the footer at the end of the blob. */
  size: typeof FOOTER_SIZE | typeof LEGACY_FOOTER_SIZE;
  /** Offset in the blob of the TOC gzip member, which ends where the footer starts. */
  tocOffset: number;
  /** Where the file data ends (the last member's end): the TOC offset. */
  dataEnd: number;
}

/** A blob's footer: which format the layer is, where its TOC is. */
export type Footer = GzipFooter | ZstdFooter;

/** The formats read lazily (`snaphost status` and the metrics name them). */
export type LayerFormat = Footer['format'];

/** How many bytes to fetch from the end of a blob of `blobSize` bytes for `parseFooter`. */
export function footerFetchSize(blobSize: number): number {
  checkBlobSize(blobSize);
  return Math.min(ZSTD_STORAGE_FOOTER_SIZE, blobSize);
}

/**
 * Parse the footer from the last `footerFetchSize(blobSize)` bytes of the blob (or as few as
 * the 51 of an eStargz footer: enough for every footer read, not to recognise containers/storage's
 * zstd:chunked one).
 */
export function parseFooter(tail: Uint8Array, blobSize: number): Footer {
  const max = footerFetchSize(blobSize);
  const min = Math.min(FOOTER_SIZE, max);
  if (tail.length < min || tail.length > max) {
    throw new InvalidArgumentError(`footer: expected the last ${min} to ${max} bytes of the blob, got ${tail.length}`);
  }
  if (blobSize < LEGACY_FOOTER_SIZE) {
    throw new NotEstargzError(`${blobSize} bytes is smaller than any eStargz footer`);
  }
  if (hasZstdChunkedMagic(tail)) return parseZstdFooter(tail, blobSize);
  const problems: string[] = [];
  if (tail.length >= FOOTER_SIZE) {
    const estargz = tail.subarray(tail.length - FOOTER_SIZE);
    const problem = checkEstargzFooter(estargz);
    if (problem === undefined) return withOffset('estargz', FOOTER_SIZE, estargz.subarray(16, 32), blobSize);
    problems.push(`eStargz footer: ${problem}`);
  }
  const legacy = tail.subarray(tail.length - LEGACY_FOOTER_SIZE);
  const problem = checkLegacyFooter(legacy);
  if (problem === undefined) return withOffset('legacy-stargz', LEGACY_FOOTER_SIZE, legacy.subarray(12, 28), blobSize);
  problems.push(`legacy stargz footer: ${problem}`);
  throw new NotEstargzError(problems.join('; '));
}

function checkBlobSize(blobSize: number): void {
  if (!Number.isSafeInteger(blobSize) || blobSize < 0) {
    throw new InvalidArgumentError(`blob size must be a non-negative integer, got ${blobSize}`);
  }
}

const MAGIC = Buffer.from('STARGZ', 'latin1');
const FEXTRA = 0x04;

/** Problem with a 51-byte eStargz footer, or undefined when it is one. */
function checkEstargzFooter(f: Uint8Array): string | undefined {
  return (
    checkGzipHeader(f) ??
    (le16(f, 10) !== 26 ? `XLEN is ${le16(f, 10)}, want 26` : undefined) ??
    (f[12] !== 0x53 || f[13] !== 0x47 ? 'subfield id is not "SG"' : undefined) ??
    (le16(f, 14) !== 22 ? `subfield length is ${le16(f, 14)}, want 22` : undefined) ??
    checkMagicAndEmptyBody(f, 32)
  );
}

/** Problem with a 47-byte legacy stargz footer, or undefined when it is one. */
function checkLegacyFooter(f: Uint8Array): string | undefined {
  return (
    checkGzipHeader(f) ??
    (le16(f, 10) !== 22 ? `XLEN is ${le16(f, 10)}, want 22` : undefined) ??
    checkMagicAndEmptyBody(f, 28)
  );
}

function checkGzipHeader(f: Uint8Array): string | undefined {
  if (f[0] !== 0x1f || f[1] !== 0x8b || f[2] !== 8) return 'no gzip header';
  // Only FEXTRA: a name, comment or header CRC would not fit in the fixed footer size.
  if (f[3] !== FEXTRA) return `gzip flags are 0x${f[3]!.toString(16)}, want FEXTRA only`;
  return undefined;
}

function checkMagicAndEmptyBody(f: Uint8Array, magicAt: number): string | undefined {
  if (!MAGIC.equals(f.subarray(magicAt, magicAt + MAGIC.length))) return 'no STARGZ magic';
  let body: Buffer;
  try {
    body = gunzipSync(f);
  } catch (err) {
    return `not a valid gzip member (${(err as Error).message})`;
  }
  return body.length === 0 ? undefined : 'gzip member is not empty';
}

function withOffset(format: GzipFooter['format'], size: GzipFooter['size'], hex: Uint8Array, blobSize: number): GzipFooter {
  const text = Buffer.from(hex).toString('latin1');
  if (!/^[0-9a-fA-F]{16}$/.test(text)) {
    throw new MalformedEstargzError(`TOC offset ${JSON.stringify(text)} in the footer is not 16 hex digits`);
  }
  const offset = BigInt(`0x${text}`);
  const limit = blobSize - size;
  if (offset >= BigInt(limit)) {
    throw new MalformedEstargzError(`TOC offset ${offset} is not before the footer at ${limit}`);
  }
  return { format, size, tocOffset: Number(offset), dataEnd: Number(offset) };
}

function le16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}
