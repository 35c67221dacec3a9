/**
 * A small, valid eStargz blob made in memory for the FUSE-serving process's warm-up
 * (warm-up.ts): directories, regular files (one gzip member each, small ones next to each
 * other so region reads find neighbours, one file of several chunks), a symlink, a hard link,
 * a whiteout and an opaque directory; then the TOC member (`stargz.index.json` in a tar
 * archive) and the 51-byte footer. Only the reader's code paths are the point: the content is
 * fixed text.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { TOC_TAR_NAME } from '../estargz/toc-tar.js';

export interface WarmUpBlob {
  bytes: Buffer;
  digest: string;
  tocDigest: string;
  /** Paths of regular files in the layer (relative, no leading slash). */
  files: string[];
  /** A file of several chunks. */
  bigFile: string;
}

const MODTIME = '2024-01-01T00:00:00Z';
const BIG_CHUNK = 64 * 1024;
const BIG_CHUNKS = 4;

export function makeWarmUpBlob(dirs: number, filesPerDir: number): WarmUpBlob {
  const members: Buffer[] = [];
  let offset = 0;
  const entries: Record<string, unknown>[] = [];
  const files: string[] = [];
  const add = (data: Buffer): number => {
    const at = offset;
    const member = gzipSync(data, { level: 1 });
    members.push(member);
    offset += member.length;
    return at;
  };
  const owner = { uid: 1000, gid: 1000 };
  entries.push({ name: 'warm/', type: 'dir', modtime: MODTIME, mode: 0o755, userName: 'root', groupName: 'root' });
  for (let d = 0; d < dirs; d++) {
    const dir = `warm/d${d}`;
    entries.push({ name: `${dir}/`, type: 'dir', modtime: MODTIME, mode: 0o755 });
    for (let f = 0; f < filesPerDir; f++) {
      const name = `${dir}/f${f}.txt`;
      const data = Buffer.from(`warm-up file ${d}/${f}\n`.repeat(1 + ((d * 7 + f) % 23)));
      const digest = sha256(data);
      entries.push({ name, type: 'reg', size: data.length, modtime: MODTIME, mode: 0o644, offset: add(data), digest, chunkDigest: digest });
      files.push(name);
    }
  }
  const bigFile = 'warm/big.bin';
  const big = Buffer.alloc(BIG_CHUNK * BIG_CHUNKS);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 9)) & 0xff;
  for (let c = 0; c < BIG_CHUNKS; c++) {
    const piece = big.subarray(c * BIG_CHUNK, (c + 1) * BIG_CHUNK);
    const at = add(piece);
    const chunk = { offset: at, chunkOffset: c * BIG_CHUNK, chunkSize: BIG_CHUNK, chunkDigest: sha256(piece) };
    entries.push(c === 0 ? { name: bigFile, type: 'reg', size: big.length, mode: 0o644, modtime: MODTIME, ...owner, digest: sha256(big), ...chunk } : { name: bigFile, type: 'chunk', ...chunk });
  }
  entries.push({ name: 'warm/link', type: 'symlink', linkName: 'd0/f0.txt', mode: 0o777, modtime: MODTIME, ...owner });
  entries.push({ name: 'warm/hard', type: 'hardlink', linkName: 'warm/d0/f1.txt', mode: 0o644, modtime: MODTIME, ...owner });
  entries.push({ name: 'warm/.wh.gone', type: 'reg', size: 0, mode: 0o644, modtime: MODTIME, ...owner });
  entries.push({ name: 'warm/d1/.wh..wh..opq', type: 'reg', size: 0, mode: 0o644, modtime: MODTIME, ...owner });

  const json = Buffer.from(JSON.stringify({ version: 1, entries }));
  const tocOffset = offset;
  members.push(tocMember(json));
  members.push(footer(tocOffset));
  const bytes = Buffer.concat(members);
  return { bytes, digest: sha256(bytes), tocDigest: sha256(json), files, bigFile };
}

/**
 * Only a TOC member (for warming up the indexer on a layer as large as real ones, with no data
 * to make): `files` files in directories of 50, their data offsets made up, all before
 * `tocOffset`. Every kind of entry a converted layer has, with the fields in the order and with
 * the omissions of the Go writer (`ctr-remote image convert`): a landmark (no mode, no time),
 * directories, regular files, symlinks, files of another owner, a file of several chunks and
 * its `chunk` entries, a hard link, xattrs, a device and a fifo. `landmark`: which of the two
 * landmarks the layer starts with. The indexer's code is then
 * compiled for every object shape real TOCs give `JSON.parse`: a shape it has not seen would
 * send the first real layer back to slower code (measured: ~25 against ~15 ms for 5000 files).
 */
export function makeWarmUpToc(files: number, landmark: 'prefetch' | 'no-prefetch' = 'prefetch'): { compressed: Buffer; tocOffset: number } {
  const entries: Record<string, unknown>[] = [];
  let offset = 0;
  const next = (size: number): number => (offset += 120 + (size % 700));
  const digest = (i: number): string => `sha256:${((i * 2654435761) % 4294967296).toString(16).padStart(8, '0').repeat(8)}`;
  const mark = digest(files + 1);
  entries.push({ name: landmark === 'prefetch' ? '.prefetch.landmark' : '.no.prefetch.landmark', type: 'reg', size: 1, offset: next(1), digest: mark, chunkDigest: mark });
  entries.push({ name: 'w/', type: 'dir', modtime: MODTIME, mode: 0o755 });
  const chunk = 64 * 1024;
  entries.push({ name: 'w/big.bin', type: 'reg', size: 4 * chunk, modtime: MODTIME, mode: 0o644, offset: next(0), digest: digest(files + 2), chunkSize: chunk, chunkDigest: digest(files + 3) });
  for (let c = 1; c < 4; c++) entries.push({ name: 'w/big.bin', type: 'chunk', offset: next(c), chunkOffset: c * chunk, chunkSize: chunk, chunkDigest: digest(files + 3 + c) });
  for (let i = 0; i < files; i++) {
    const dir = `w/usr/share/d${Math.floor(i / 50)}`;
    if (i % 50 === 0) entries.push({ name: `${dir}/`, type: 'dir', modtime: MODTIME, mode: 0o755 });
    const size = 100 + (i % 900);
    const d = digest(i);
    if (i % 10 === 7) entries.push({ name: `${dir}/l${i}`, type: 'symlink', modtime: MODTIME, linkName: `f${i - 1}.txt`, mode: 0o777 });
    else if (i % 10 === 8) entries.push({ name: `${dir}/f${i}.txt`, type: 'reg', size, modtime: MODTIME, mode: 0o640, uid: 1000, gid: 1000, userName: 'app', groupName: 'app', offset: next(size), digest: d, chunkDigest: d });
    else entries.push({ name: `${dir}/f${i}.txt`, type: 'reg', size, modtime: MODTIME, mode: 0o644, offset: next(size), digest: d, chunkDigest: d });
  }
  entries.push({ name: 'w/hard', type: 'hardlink', modtime: MODTIME, linkName: 'w/usr/share/d0/f0.txt', mode: 0o644 });
  entries.push({ name: 'w/capable', type: 'reg', modtime: MODTIME, mode: 0o755, xattrs: { 'security.capability': 'AQAAAgAgAAAAAAAAAAAAAAAAAAA=' } });
  entries.push({ name: 'w/null', type: 'char', modtime: MODTIME, mode: 0o666, devMajor: 1, devMinor: 3 });
  entries.push({ name: 'w/pipe', type: 'fifo', modtime: MODTIME, mode: 0o600 });
  return { compressed: tocMember(Buffer.from(JSON.stringify({ version: 1, entries }))), tocOffset: offset + 1000 };
}

function tocMember(json: Buffer): Buffer {
  return gzipSync(tarOf(TOC_TAR_NAME, json), { level: 1 });
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** One ustar entry and the two zero blocks that end the archive. */
function tarOf(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'latin1');
  header.write('0000644\0', 100, 'latin1');
  header.write('0000000\0', 108, 'latin1');
  header.write('0000000\0', 116, 'latin1');
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  header.write('00000000000\0', 136, 'latin1');
  header.write('        ', 148, 'latin1');
  header[156] = 0x30;
  header.write('ustar\0' + '00', 257, 'latin1');
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024)]);
}

/** The eStargz footer: an empty gzip member whose Extra field holds the TOC offset. */
function footer(tocOffset: number): Buffer {
  const f = Buffer.alloc(51);
  f.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff], 0);
  f.writeUInt16LE(26, 10);
  f.set([0x53, 0x47], 12);
  f.writeUInt16LE(22, 14);
  f.write(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`, 16, 'latin1');
  f.set([0x01, 0x00, 0x00, 0xff, 0xff], 38); // final stored block, empty
  // CRC32 and ISIZE of nothing: zero (already).
  return f;
}
