/**
 * How the chunk cache reads its files through an open handle: all of a range, a whole file (in
 * pieces read side by side when large), and a streaming hash (bounded memory, whatever the
 * file's size).
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { DigestAlgorithm } from '../estargz/digest.js';

/** Piece size of the streaming hash of a file read by range (memory held, whatever the file). */
const HASH_PIECE_BYTES = 1024 * 1024;
/**
 * A whole file larger than this is read as pieces of this size, READ_PIECES_AT_ONCE at a time:
 * a 4 MiB chunk read back after the page cache dropped it is a disk read, and one 4 MiB read
 * waits for it piece after piece (~245 MiB/s here, against ~350 with 4 pieces in flight on
 * libuv's 4 threads; docs/benchmarks.md, "Memory (issue 16)").
 */
const READ_PIECE_BYTES = 1024 * 1024;
const READ_PIECES_AT_ONCE = 4;

/** Reads all of `data` (the whole file, `data.length` bytes long by its fstat); the bytes read. */
export function readWhole(handle: FileHandle, data: Buffer): Promise<number> {
  return data.length <= READ_PIECE_BYTES ? readFully(handle, data, 0) : readInPieces(handle, data);
}

/** The digest of the file's first `size` bytes, hashed piece by piece. */
export async function hashFile(handle: FileHandle, size: number, algorithm: DigestAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  const piece = Buffer.allocUnsafe(Math.min(HASH_PIECE_BYTES, Math.max(1, size)));
  for (let at = 0; at < size; ) {
    const { bytesRead } = await handle.read(piece, 0, Math.min(piece.length, size - at), at);
    if (bytesRead === 0) break;
    hash.update(piece.subarray(0, bytesRead));
    at += bytesRead;
  }
  return `${algorithm}:${hash.digest('hex')}`;
}

/** Reads into all of `data` from `position` on; the bytes read (fewer at the end of the file). */
export async function readFully(handle: FileHandle, data: Buffer, position: number): Promise<number> {
  let at = 0;
  while (at < data.length) {
    const { bytesRead } = await handle.read(data, at, data.length - at, position + at);
    if (bytesRead === 0) break;
    at += bytesRead;
  }
  return at;
}

/**
 * Reads all of `data` from the file's start as READ_PIECE_BYTES pieces, READ_PIECES_AT_ONCE
 * in flight; the bytes read up to the first piece found short (the file is shorter than
 * its fstat said: cut while read).
 */
async function readInPieces(handle: FileHandle, data: Buffer): Promise<number> {
  const pieces = Math.ceil(data.length / READ_PIECE_BYTES);
  const got = new Array<number>(pieces).fill(0);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < pieces; i = next++) {
      const from = i * READ_PIECE_BYTES;
      got[i] = await readFully(handle, data.subarray(from, Math.min(data.length, from + READ_PIECE_BYTES)), from);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_PIECES_AT_ONCE, pieces) }, worker));
  let total = 0;
  for (let i = 0; i < pieces; i++) {
    total += got[i]!;
    if (got[i]! < Math.min(READ_PIECE_BYTES, data.length - i * READ_PIECE_BYTES)) break;
  }
  return total;
}
