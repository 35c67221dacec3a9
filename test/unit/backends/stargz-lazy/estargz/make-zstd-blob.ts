/**
 * A small zstd:chunked writer for tests (the layout of stargz-snapshotter's `--zstdchunked`):
 * each chunk a zstd frame (or several small files packed into one frame, with `innerOffset`),
 * the JSON TOC as one zstd frame in a skippable frame, then the 48-byte skippable-frame footer.
 * Lets a test break exactly one thing (TOC, footer fields).
 */
import { zstdCompressSync } from 'node:zlib';
import { sha256, type RawEntry, type SynthFile } from './make-blob.js';

export interface ZstdBuildOptions {
  mutateToc?: (toc: { version: number; entries: RawEntry[] }) => void;
  tocJson?: string | Buffer;
  /** Pack the small files (no `chunkSize`) into one frame, as a writer that packs does. */
  pack?: boolean;
  /** Override footer fields (lie on purpose). */
  footer?: Partial<{ tocOffset: bigint; tocLength: bigint; tocUncompressedLength: bigint; type: bigint; frameSize: number }>;
  /** Replace the compressed TOC (a bomb, a corrupt frame). */
  compressedToc?: Buffer;
}

export interface BuiltZstdBlob {
  blob: Buffer;
  toc: { version: number; entries: RawEntry[] };
  tocJson: Buffer;
  tocDigest: string;
  /** Offset of the compressed TOC (past its skippable-frame header). */
  tocOffset: number;
}

export function skippable(payload: Buffer, size = payload.length): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0x184d2a50, 0);
  h.writeUInt32LE(size, 4);
  return Buffer.concat([h, payload]);
}

export function zstdFooter(f: { tocOffset: bigint; tocLength: bigint; tocUncompressedLength: bigint; type?: bigint; frameSize?: number }): Buffer {
  const p = Buffer.alloc(40);
  p.writeBigUInt64LE(f.tocOffset, 0);
  p.writeBigUInt64LE(f.tocLength, 8);
  p.writeBigUInt64LE(f.tocUncompressedLength, 16);
  p.writeBigUInt64LE(f.type ?? 1n, 24);
  p.write('GnUlInUx', 32, 'latin1');
  return skippable(p, f.frameSize ?? 40);
}

export function buildZstdBlob(files: SynthFile[], options: ZstdBuildOptions = {}): BuiltZstdBlob {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  push(zstdCompressSync(Buffer.alloc(512)));
  const entries: RawEntry[] = [];
  let packed: { at: number; data: Buffer[]; size: number } | undefined;
  const flush = () => {
    if (packed) push(zstdCompressSync(Buffer.concat(packed.data)));
    packed = undefined;
  };
  for (const f of files) {
    if (f.data === undefined || f.data.length === 0) {
      entries.push({ name: f.name, type: f.data ? 'reg' : 'dir', mode: 0o644, ...(f.data ? { digest: sha256(Buffer.alloc(0)) } : {}), ...f.entry });
      continue;
    }
    if (options.pack && f.chunkSize === undefined) {
      packed ??= { at: offset, data: [], size: 0 };
      entries.push({ name: f.name, type: 'reg', size: f.data.length, mode: 0o644, offset: packed.at, innerOffset: packed.size, digest: sha256(f.data), chunkDigest: sha256(f.data), ...f.entry });
      packed.data.push(f.data);
      packed.size += f.data.length;
      continue;
    }
    flush();
    const size = f.data.length;
    const step = f.chunkSize ?? size;
    for (let at = 0; at < size; at += step) {
      const piece = f.data.subarray(at, Math.min(size, at + step));
      const last = at + step >= size;
      const e: RawEntry =
        at === 0 ? { name: f.name, type: 'reg', size, mode: 0o644, offset, digest: sha256(f.data) } : { name: f.name, type: 'chunk', offset, chunkOffset: at };
      if (!last) e.chunkSize = piece.length;
      e.chunkDigest = sha256(piece);
      entries.push(at === 0 ? { ...e, ...f.entry } : e);
      push(zstdCompressSync(piece));
    }
  }
  flush();
  const toc = { version: 1, entries };
  options.mutateToc?.(toc);
  const tocJson = options.tocJson === undefined ? Buffer.from(JSON.stringify(toc, null, '\t')) : Buffer.from(options.tocJson);
  const compressed = options.compressedToc ?? zstdCompressSync(tocJson);
  push(skippable(compressed));
  const tocOffset = offset - compressed.length;
  push(
    zstdFooter({
      tocOffset: BigInt(tocOffset),
      tocLength: BigInt(compressed.length),
      tocUncompressedLength: BigInt(tocJson.length),
      ...options.footer,
    }),
  );
  return { blob: Buffer.concat(parts), toc, tocJson, tocDigest: sha256(tocJson), tocOffset };
}
