/**
 * A small eStargz writer for tests: builds well-formed blobs from a list of files and lets a
 * test break exactly one thing (the TOC entries, the JSON text, the footer). The real-writer
 * fixtures live in test/fixtures/estargz; this is for malformed and edge-case blobs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export interface RawEntry {
  name: string;
  type: string;
  [field: string]: unknown;
}

export interface SynthFile {
  name: string;
  /** Regular file content; omit for other types (set them in `entry`). */
  data?: Buffer;
  /** Split the data into chunks of this many bytes. */
  chunkSize?: number;
  /** Extra or overriding TOC fields of the (first) entry. */
  entry?: Partial<RawEntry>;
}

export interface BuiltBlob {
  blob: Buffer;
  toc: { version: number; entries: RawEntry[] };
  tocJson: Buffer;
  tocDigest: string;
  tocOffset: number;
}

export interface BuildOptions {
  /** Change the TOC after offsets are known (break it on purpose). */
  mutateToc?: (toc: { version: number; entries: RawEntry[] }) => void;
  /** Use this JSON text instead of the TOC. */
  tocJson?: string | Buffer;
  /** Tar entry name of the TOC. */
  tocName?: string;
  footer?: 'estargz' | 'legacy';
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function buildBlob(files: SynthFile[], options: BuildOptions = {}): BuiltBlob {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  // A leading member, as real blobs start with the first tar header.
  push(gzipSync(Buffer.alloc(512)));
  const entries: RawEntry[] = [];
  for (const f of files) {
    if (f.data === undefined || f.data.length === 0) {
      entries.push({ name: f.name, type: f.data ? 'reg' : 'dir', mode: 0o644, ...(f.data ? { digest: sha256(Buffer.alloc(0)) } : {}), ...f.entry });
      continue;
    }
    const size = f.data.length;
    const step = f.chunkSize ?? size;
    for (let at = 0; at < size; at += step) {
      const piece = f.data.subarray(at, Math.min(size, at + step));
      const last = at + step >= size;
      const e: RawEntry =
        at === 0
          ? { name: f.name, type: 'reg', size, mode: 0o644, offset, digest: sha256(f.data) }
          : { name: f.name, type: 'chunk', offset, chunkOffset: at };
      if (!last) e.chunkSize = piece.length;
      e.chunkDigest = sha256(piece);
      entries.push(at === 0 ? { ...e, ...f.entry } : e);
      push(gzipSync(piece));
    }
  }
  const toc = { version: 1, entries };
  options.mutateToc?.(toc);
  const tocJson =
    options.tocJson === undefined
      ? Buffer.from(JSON.stringify(toc, null, '\t'))
      : Buffer.from(options.tocJson);
  const tocOffset = offset;
  push(gzipSync(tarOf(options.tocName ?? 'stargz.index.json', tocJson)));
  push(options.footer === 'legacy' ? legacyFooter(tocOffset) : estargzFooter(tocOffset));
  return { blob: Buffer.concat(parts), toc, tocJson, tocDigest: sha256(tocJson), tocOffset };
}

/** A one-entry ustar archive (header, data, padding, two zero blocks). */
export function tarOf(name: string, data: Buffer, typeflag = '0'): Buffer {
  const header = tarHeader(name, data.length, typeflag);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024)]);
}

export function tarHeader(name: string, size: number, typeflag = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.write('ustar\0' + '00', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

/** Empty stored deflate block, CRC32 0, ISIZE 0. */
const EMPTY_BODY = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
const GZIP_FEXTRA_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff]);

export function estargzFooter(tocOffset: number | string): Buffer {
  const hex = typeof tocOffset === 'string' ? tocOffset : tocOffset.toString(16).padStart(16, '0');
  const extra = Buffer.concat([Buffer.from([0x53, 0x47, 22, 0]), Buffer.from(`${hex}STARGZ`, 'latin1')]);
  return Buffer.concat([GZIP_FEXTRA_HEADER, Buffer.from([26, 0]), extra, EMPTY_BODY]);
}

export function legacyFooter(tocOffset: number): Buffer {
  const extra = Buffer.from(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`, 'latin1');
  return Buffer.concat([GZIP_FEXTRA_HEADER, Buffer.from([22, 0]), extra, EMPTY_BODY]);
}

// ---- the real-writer fixtures ------------------------------------------------------------

export interface ExpectedEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  userName?: string;
  groupName?: string;
  size: number;
  mtime: number;
  linkName?: string;
  devMajor?: number;
  devMinor?: number;
  xattrs?: Record<string, string>;
  sha256?: string;
}

export interface Fixture {
  blob: Buffer;
  expected: {
    tocDigest: string;
    blobSize: number;
    chunkSize: number;
    prioritized: string[] | null;
    entries: ExpectedEntry[];
  };
}

export function loadFixture(name: 'full' | 'plain'): Fixture {
  const dir = fileURLToPath(new URL('../../../../fixtures/estargz/', import.meta.url));
  return {
    blob: readFileSync(`${dir}${name}.estargz`),
    expected: JSON.parse(readFileSync(`${dir}${name}.expected.json`, 'utf8')) as Fixture['expected'],
  };
}

/** A BlobReader over a buffer that records each read (offset, length). */
export function bufferReader(blob: Buffer): { size: number; reads: [number, number][]; read(o: number, l: number): Promise<Buffer> } {
  const reads: [number, number][] = [];
  return {
    size: blob.length,
    reads,
    read(offset: number, length: number) {
      reads.push([offset, length]);
      return Promise.resolve(blob.subarray(offset, offset + length));
    },
  };
}
