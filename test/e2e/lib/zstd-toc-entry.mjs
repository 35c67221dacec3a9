// node zstd-toc-entry.mjs BLOB_FILE PATH CHUNK_OFFSET: prints "OFFSET NEXT_OFFSET" of the TOC
// entry of PATH (whose chunk starts at CHUNK_OFFSET of the file) in a zstd:chunked blob: the
// compressed byte range (one zstd frame) holding that chunk. The counterpart of esgz_toc_entry.
import { readFileSync } from 'node:fs';
import { zstdDecompressSync } from 'node:zlib';

const [file, path, chunk] = process.argv.slice(2);
const blob = readFileSync(file);
const footer = blob.subarray(blob.length - 40);
if (footer.subarray(32).toString('latin1') !== 'GnUlInUx') throw new Error(`${file}: no zstd:chunked footer`);
const tocOffset = Number(footer.readBigUInt64LE(0));
const tocLength = Number(footer.readBigUInt64LE(8));
const toc = JSON.parse(zstdDecompressSync(blob.subarray(tocOffset, tocOffset + tocLength)).toString('utf8'));
const entries = toc.entries;
const i = entries.findIndex((e) => e.name === path && (e.chunkOffset ?? 0) === Number(chunk));
if (i < 0) throw new Error(`no entry ${path} at chunk offset ${chunk}`);
const next = entries.slice(i + 1).find((e) => e.offset !== undefined && e.offset > entries[i].offset)?.offset ?? tocOffset - 8;
console.log(`${entries[i].offset} ${next}`);
