/**
 * Reading response bodies with exact bounds: never more bytes into memory than asked for,
 * and a clear error when the server sends more or fewer.
 */
import type { BlobResponse } from './blob-transport.js';

/** Error bodies are read (to keep the connection) only up to this size. */
export const MAX_DRAIN = 64 * 1024;

/** Reads and discards a response body we will not use, so its connection can be reused. */
export async function drain(res: BlobResponse): Promise<void> {
  await res.body.dump({ limit: MAX_DRAIN }).catch(() => undefined);
}

/**
 * Drops a response body we stop reading, and its connection. (undici's body emits an abort
 * error when destroyed early; nobody else listens, so it is swallowed here.)
 */
export function discard(res: BlobResponse): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/** Thrown when a body does not have the length promised; the caller adds blob and host. */
export class BodyLengthError extends Error {}

/** Exactly `length` bytes, or BodyLengthError. */
export async function readExactly(res: BlobResponse, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let filled = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    if (filled + chunk.length > length) {
      discard(res);
      throw new BodyLengthError(`body is longer than the ${length} bytes announced`);
    }
    chunk.copy(out, filled);
    filled += chunk.length;
  }
  if (filled !== length) throw new BodyLengthError(`body ended after ${filled} of ${length} bytes`);
  return out;
}

/** The whole body, refusing more than `max` bytes. */
export async function readAtMost(res: BlobResponse, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      discard(res);
      throw new BodyLengthError(`body is larger than the ${max} bytes expected`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Bytes [offset, offset+length) of a full body (a server that ignored Range): skips what comes
 * before, stops reading (and drops the connection) once the slice is complete.
 */
export async function readSlice(res: BlobResponse, offset: number, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let pos = 0;
  let filled = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    const start = Math.max(0, offset - pos);
    pos += chunk.length;
    if (start >= chunk.length) continue;
    const take = Math.min(chunk.length - start, length - filled);
    chunk.copy(out, filled, start, start + take);
    filled += take;
    if (filled === length) {
      discard(res);
      return out;
    }
  }
  throw new BodyLengthError(`full body ended at byte ${pos}, before ${offset + length}`);
}
