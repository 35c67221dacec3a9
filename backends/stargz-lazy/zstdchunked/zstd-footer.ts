/**
 * The footer at the end of a zstd:chunked blob (stargz-snapshotter's `--zstdchunked`): a zstd
 * skippable frame whose 40-byte payload says where the TOC is.
 *
 * ```
 * 48 bytes                                   the TOC just before it
 *   4  skippable-frame magic 50 2A 4D 18       4  skippable-frame magic
 *   4  frame size, u32 LE = 40                 4  frame size, u32 LE
 *   8  TOC offset, u64 LE (past the TOC's      n  the TOC JSON, one zstd frame
 *      own 8-byte frame header)
 *   8  compressed TOC length, u64 LE
 *   8  uncompressed TOC length, u64 LE
 *   8  manifest type, u64 LE (1 = CRFS)
 *   8  magic "GnUlInUx"
 * ```
 * containers/storage (podman) writes a 64-byte payload (tar-split offsets added) with a TOC of
 * another schema: it is recognised and refused as an unsupported manifest (NotEstargzError,
 * so the layer is pulled fully), as is any other manifest type.
 */
import { MalformedEstargzError, NotEstargzError } from '../estargz/errors.js';

/** Bytes of the CRFS footer: frame header + 40-byte payload. */
export const ZSTD_FOOTER_SIZE = 48;
/** Bytes of containers/storage's newer footer (frame header + 64-byte payload), refused. */
export const ZSTD_STORAGE_FOOTER_SIZE = 72;
/** Frame header of the skippable frame that wraps the TOC. */
export const SKIPPABLE_HEADER_SIZE = 8;

const SKIPPABLE_MAGIC = 0x184d2a50;
const CHUNKED_MAGIC = Buffer.from('GnUlInUx', 'latin1');
const MANIFEST_TYPE_CRFS = 1n;

export interface ZstdFooter {
  format: 'zstd:chunked';
  size: typeof ZSTD_FOOTER_SIZE;
  /** Offset of the compressed TOC (its zstd frame) in the blob. */
  tocOffset: number;
  /** Bytes of the compressed TOC: it ends where the footer starts. */
  tocLength: number;
  /** Bytes of the TOC JSON, as the footer declares them (checked after decompression). */
  tocUncompressedLength: number;
  /** Where the file data ends: the TOC's skippable-frame header. */
  dataEnd: number;
}

/** True when `tail` (the blob's last bytes) ends with the zstd:chunked magic. */
export function hasZstdChunkedMagic(tail: Uint8Array): boolean {
  return tail.length >= CHUNKED_MAGIC.length && CHUNKED_MAGIC.equals(tail.subarray(tail.length - CHUNKED_MAGIC.length));
}

/**
 * The footer from the blob's last bytes (at least 48; 72 to recognise containers/storage's
 * footer). Call only when `hasZstdChunkedMagic(tail)`.
 */
export function parseZstdFooter(tail: Uint8Array, blobSize: number): ZstdFooter {
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  if (tail.length >= ZSTD_STORAGE_FOOTER_SIZE) {
    const at = tail.length - ZSTD_STORAGE_FOOTER_SIZE;
    if (view.getUint32(at, true) === SKIPPABLE_MAGIC && view.getUint32(at + 4, true) === 64) {
      throw new NotEstargzError('unsupported zstd:chunked manifest: a 64-byte footer with tar-split (containers/storage); only the CRFS manifest is read lazily');
    }
  }
  if (tail.length < ZSTD_FOOTER_SIZE) throw new NotEstargzError(`${tail.length} bytes is smaller than the zstd:chunked footer`);
  const at = tail.length - ZSTD_FOOTER_SIZE;
  if (view.getUint32(at, true) !== SKIPPABLE_MAGIC) throw new NotEstargzError('unsupported zstd:chunked manifest: the footer is not a zstd skippable frame');
  const frameSize = view.getUint32(at + 4, true);
  if (frameSize !== 40) throw new NotEstargzError(`unsupported zstd:chunked manifest: footer frame size ${frameSize}, want 40`);
  const type = view.getBigUint64(at + 32, true);
  if (type !== MANIFEST_TYPE_CRFS) throw new NotEstargzError(`unsupported zstd:chunked manifest: type ${type}, want 1 (CRFS)`);
  const tocOffset = view.getBigUint64(at + 8, true);
  const tocLength = view.getBigUint64(at + 16, true);
  const tocUncompressedLength = view.getBigUint64(at + 24, true);
  const footerAt = BigInt(blobSize - ZSTD_FOOTER_SIZE);
  if (tocOffset < BigInt(SKIPPABLE_HEADER_SIZE) || tocOffset > footerAt) {
    throw new MalformedEstargzError(`zstd:chunked TOC offset ${tocOffset} is not within the blob before the footer at ${footerAt}`);
  }
  if (tocLength === 0n || tocOffset + tocLength !== footerAt) {
    throw new MalformedEstargzError(`zstd:chunked TOC at ${tocOffset} of ${tocLength} bytes does not end at the footer at ${footerAt}`);
  }
  if (tocUncompressedLength === 0n || tocUncompressedLength > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MalformedEstargzError(`zstd:chunked TOC uncompressed length ${tocUncompressedLength} is not a positive safe integer`);
  }
  const offset = Number(tocOffset);
  const header = offset - SKIPPABLE_HEADER_SIZE;
  // The TOC's own frame header is checked when the TOC is fetched (toc.ts): it is not in the tail.
  return { format: 'zstd:chunked', size: ZSTD_FOOTER_SIZE, tocOffset: offset, tocLength: Number(tocLength), tocUncompressedLength: Number(tocUncompressedLength), dataEnd: header };
}
