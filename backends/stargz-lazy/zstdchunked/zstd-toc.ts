/**
 * The TOC of a zstd:chunked blob: the eStargz JSON TOC compressed as one zstd frame (no tar),
 * wrapped in a skippable frame. `tocRange` fetches it with that frame's 8-byte header, which is
 * checked here against the footer before anything is decompressed.
 *
 * Caps, as for a gzip TOC: the footer's declared JSON length is checked against `maxTocBytes`
 * and `maxTocRatio` before decompressing; decompression stops at the smaller of the declared
 * length and the caps (`maxOutputLength`), so a lying footer or a bomb costs at most that; the
 * real length must then equal the declared one.
 */
import { promisify } from 'node:util';
import { zstdDecompress } from 'node:zlib';
import { EstargzLimitError, MalformedEstargzError } from '../estargz/errors.js';
import type { EstargzLimits } from '../estargz/limits.js';
import { SKIPPABLE_HEADER_SIZE } from './zstd-footer.js';

const zstdDecompressAsync = promisify(zstdDecompress);
const TOC_OUTPUT_CHUNK_BYTES = 1024 * 1024;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** The TOC JSON from the bytes of its skippable frame (header included); `declared` is the footer's uncompressed length. */
export async function decompressZstdToc(framed: Uint8Array, declared: number | undefined, limits: EstargzLimits): Promise<Buffer> {
  if (framed.length <= SKIPPABLE_HEADER_SIZE) throw new MalformedEstargzError(`zstd:chunked TOC of ${framed.length} bytes has no frame`);
  const view = new DataView(framed.buffer, framed.byteOffset, framed.byteLength);
  if (view.getUint32(0, true) !== SKIPPABLE_MAGIC) throw new MalformedEstargzError('zstd:chunked TOC is not in a skippable frame');
  const frameSize = view.getUint32(4, true);
  const compressed = framed.subarray(SKIPPABLE_HEADER_SIZE);
  if (frameSize !== compressed.length) {
    throw new MalformedEstargzError(`zstd:chunked TOC frame says ${frameSize} bytes, the footer ${compressed.length}`);
  }
  const byRatio = compressed.length * limits.maxTocRatio;
  if (declared !== undefined) {
    if (declared > limits.maxTocBytes) throw new EstargzLimitError('maxTocBytes', declared, limits.maxTocBytes, 'declared zstd:chunked TOC size');
    if (declared > byRatio) {
      throw new EstargzLimitError('maxTocRatio', Math.ceil(declared / compressed.length), limits.maxTocRatio, 'declared zstd:chunked TOC decompression ratio');
    }
  }
  // One byte past the declared length: a frame holding more is told from one holding exactly that.
  const max = Math.min(limits.maxTocBytes, byRatio, declared === undefined ? Infinity : declared + 1);
  let json: Buffer;
  try {
    json = await zstdDecompressAsync(compressed, { maxOutputLength: max, chunkSize: TOC_OUTPUT_CHUNK_BYTES });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      if (declared !== undefined && max === declared + 1) {
        throw new MalformedEstargzError(`zstd:chunked TOC decompresses to more than the ${declared} bytes its footer declares`);
      }
      throw byRatio < limits.maxTocBytes
        ? new EstargzLimitError('maxTocRatio', Math.ceil(max / compressed.length) + 1, limits.maxTocRatio, 'TOC decompression ratio')
        : new EstargzLimitError('maxTocBytes', max + 1, limits.maxTocBytes, 'decompressed TOC size (at least)');
    }
    throw new MalformedEstargzError(`zstd:chunked TOC frame: ${(err as Error).message}`, { cause: err });
  }
  if (declared !== undefined && json.length !== declared) {
    throw new MalformedEstargzError(`zstd:chunked TOC decompresses to ${json.length} bytes, its footer declares ${declared}`);
  }
  return json;
}
