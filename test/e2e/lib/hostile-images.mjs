#!/usr/bin/env node
// Crafts the hostile eStargz images of stargz-lazy-hostile.e2e.sh into an OCI layout (pushed
// with skopeo, which keeps the manifests byte for byte). Each image is the busybox layer of a
// base eStargz image (copied with its annotations) plus one crafted layer, written as a real
// eStargz blob: tar headers and file payloads in gzip members, the TOC (stargz.index.json) in
// its own member, the 51-byte footer. Members that are the same bytes are compressed once.
//   node hostile-images.mjs --base OCI_DIR:TAG --out OCI_DIR [--sums FILE]
// (--sums: "PATH SHA256" of each bomb file's 64 MiB, for the honest variant's reads.)
// Tags written to --out (each line of stdout: "TAG LAYER_DIGEST TOC_DIGEST"):
//   chain         200,000 hard links in one chain listed in reverse: h/l000000 links to
//                 h/l000001, which appears later in the TOC, …, the last to the regular file
//                 h/target (CHAIN_TEXT); tar headers follow the TOC order
//   bomb-honest   BOMBS files bomb/bNN, each one chunk whose member inflates 64 MiB of one byte
//                 (~64 KiB compressed; another byte in each file of both variants), declared as
//                 such in the TOC; then .prefetch.landmark, so a prefetching mount fetches them all
//   bomb-lying    members like those, but the TOC declares each file 1 MiB (its digests are those
//                 of the 64 MiB the member holds): a reader must not inflate past the declared
//                 MiB, and the chunk cannot verify
//   swap-genuine  one file data/who ("genuine"), NO toc.digest annotation
//   swap-forged   data/who ("forged" and a few '!'), no annotation, the same blob size: what a
//                 swapping proxy serves instead
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const MiB = 1024 * 1024;
export const CHAIN_LINKS = 200_000;
export const CHAIN_TEXT = 'the end of a hard-link chain\n';
export const BOMBS = 12;
export const BOMB_BYTES = 64 * MiB;
export const BOMB_LIE_BYTES = 1 * MiB;
export const BOMB_BYTE = 0x42;
const MTIME = '2024-01-01T00:00:00Z';
const TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';
const UNCOMPRESSED_SIZE_ANNOTATION = 'io.containers.estargz.uncompressed-size';

const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function tarHeader(name, size, typeflag = '0', linkName = '', mode = 0o644) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(`${mode.toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write(`${(Date.parse(MTIME) / 1000).toString(8).padStart(11, '0')}\0`, 136, 'latin1');
  h.write(typeflag, 156, 'latin1');
  h.write(linkName, 157, 100, 'utf8');
  h.write('ustar\0' + '00', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** Empty stored deflate block, CRC32 0, ISIZE 0: the footer's body. */
const EMPTY_BODY = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
function estargzFooter(tocOffset) {
  const extra = Buffer.concat([Buffer.from([0x53, 0x47, 22, 0]), Buffer.from(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`, 'latin1')]);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff]), Buffer.from([26, 0]), extra, EMPTY_BODY]);
}

/**
 * An eStargz blob written to a file as it goes: `header()` queues tar headers (flushed as one
 * member before the next payload), `payload()` writes a member holding one file's bytes
 * (`member` is its gzip, given so that equal payloads are compressed once).
 */
class LayerWriter {
  constructor(path) {
    this.path = path;
    this.fd = openSync(path, 'w');
    this.offset = 0;
    this.compressed = createHash('sha256');
    this.uncompressed = createHash('sha256');
    this.uncompressedSize = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.entries = [];
  }
  #write(buf) {
    writeSync(this.fd, buf);
    this.compressed.update(buf);
    this.offset += buf.length;
  }
  #raw(buf) {
    this.uncompressed.update(buf);
    this.uncompressedSize += buf.length;
  }
  flush() {
    if (this.pendingBytes === 0) return;
    const raw = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.#raw(raw);
    this.#write(gzipSync(raw, { level: 1 }));
  }
  header(buf) {
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= 8 * MiB) this.flush();
  }
  /** Write one payload member; returns its offset. `raw`: [buffer, times] pieces of its bytes. */
  payload(member, raw) {
    this.flush();
    const at = this.offset;
    for (const [buf, times] of raw) for (let i = 0; i < times; i++) this.#raw(buf);
    this.#write(member);
    return at;
  }
  finish() {
    this.flush();
    const toc = Buffer.from(JSON.stringify({ version: 1, entries: this.entries }));
    const tocOffset = this.offset;
    const pad = Buffer.alloc((512 - (toc.length % 512)) % 512);
    const tocTar = Buffer.concat([tarHeader('stargz.index.json', toc.length), toc, pad, Buffer.alloc(1024)]);
    this.#raw(tocTar);
    this.#write(gzipSync(tocTar));
    this.#write(estargzFooter(tocOffset));
    closeSync(this.fd);
    return {
      digest: `sha256:${this.compressed.digest('hex')}`,
      size: this.offset,
      diffId: `sha256:${this.uncompressed.digest('hex')}`,
      uncompressedSize: this.uncompressedSize,
      tocDigest: sha256(toc),
    };
  }
}

const dirEntry = (w, name) => {
  w.header(tarHeader(`${name}/`, 0, '5', '', 0o755));
  w.entries.push({ name, type: 'dir', mode: 0o755, modtime: MTIME });
};

/** A small regular file of one chunk. */
const smallFile = (w, name, text) => {
  const data = Buffer.from(text);
  w.header(tarHeader(name, data.length));
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  const digest = sha256(data);
  const offset = w.payload(gzipSync(Buffer.concat([data, pad])), [[data, 1], [pad, 1]]);
  w.entries.push({ name, type: 'reg', size: data.length, mode: 0o644, modtime: MTIME, offset, digest, chunkDigest: digest });
};

function chainLayer(path) {
  const w = new LayerWriter(path);
  dirEntry(w, 'h');
  const name = (i) => `h/l${String(i).padStart(6, '0')}`;
  for (let i = 0; i < CHAIN_LINKS; i++) {
    const target = i + 1 < CHAIN_LINKS ? name(i + 1) : 'h/target';
    w.header(tarHeader(name(i), 0, '1', target));
    w.entries.push({ name: name(i), type: 'hardlink', linkName: target, mode: 0o644, modtime: MTIME });
  }
  smallFile(w, 'h/target', CHAIN_TEXT);
  return w.finish();
}

function bombLayer(path, bombs, lying) {
  const w = new LayerWriter(path);
  dirEntry(w, 'bomb');
  bombs.forEach((b, i) => {
    const name = `bomb/b${String(i + 1).padStart(2, '0')}`;
    w.header(tarHeader(name, BOMB_BYTES));
    const offset = w.payload(b.member, [[b.mib, BOMB_BYTES / MiB]]);
    w.entries.push({ name, type: 'reg', size: lying ? BOMB_LIE_BYTES : BOMB_BYTES, mode: 0o644, modtime: MTIME, offset, digest: b.digest, chunkDigest: b.digest });
  });
  smallFile(w, '.prefetch.landmark', 'X');
  smallFile(w, 'bomb/after-landmark.txt', 'read me after the bombs\n');
  return w.finish();
}

/**
 * The bombs' members: file i is 64 MiB of byte BOMB_BYTE + first + i (distinct, also between
 * the two variants, so that no cache keyed by chunk digest serves one bomb for another).
 */
function makeBombs(first) {
  return Array.from({ length: BOMBS }, (_, i) => {
    const data = Buffer.alloc(BOMB_BYTES, BOMB_BYTE + first + i);
    return { mib: Buffer.alloc(MiB, BOMB_BYTE + first + i), member: gzipSync(data, { level: 9 }), digest: sha256(data) };
  });
}

function whoLayer(path, who) {
  const w = new LayerWriter(path);
  dirEntry(w, 'data');
  smallFile(w, 'data/who', `${who}\n`);
  return w.finish();
}

// ---- the OCI layout ------------------------------------------------------------------------
function main() {
  const { values: args } = parseArgs({ options: { base: { type: 'string' }, out: { type: 'string' }, sums: { type: 'string' } } });
  const m = /^(.+):([^:/]+)$/.exec(args.base ?? '');
  if (!m || !args.out) {
    console.error('usage: hostile-images.mjs --base OCI_DIR:TAG --out OCI_DIR');
    process.exit(2);
  }
  const [, baseDir, baseTag] = m;
  const out = args.out;
  const blobs = join(out, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const blobPath = (dir, digest) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const readJson = (dir, digest) => JSON.parse(readFileSync(blobPath(dir, digest), 'utf8'));
  const baseIndex = JSON.parse(readFileSync(join(baseDir, 'index.json'), 'utf8'));
  const baseDesc = baseIndex.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === baseTag);
  if (!baseDesc) throw new Error(`no tag ${baseTag} in ${baseDir}`);
  const baseManifest = readJson(baseDir, baseDesc.digest);
  const baseConfig = readJson(baseDir, baseManifest.config.digest);
  const busybox = baseManifest.layers[0];
  copyFileSync(blobPath(baseDir, busybox.digest), blobPath(out, busybox.digest));

  const putBlob = (buf) => {
    const digest = sha256(buf);
    writeFileSync(blobPath(out, digest), buf);
    return { digest, size: buf.length };
  };
  const tmp = join(out, 'layer.tmp');
  const layer = (write, annotate) => {
    const l = write(tmp);
    renameSync(tmp, blobPath(out, l.digest));
    const annotations = { [UNCOMPRESSED_SIZE_ANNOTATION]: String(l.uncompressedSize) };
    if (annotate) annotations[TOC_DIGEST_ANNOTATION] = l.tocDigest;
    return { ...l, desc: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size, annotations } };
  };

  const manifests = [];
  const image = (tag, l) => {
    const config = { ...baseConfig, rootfs: { type: 'layers', diff_ids: [baseConfig.rootfs.diff_ids[0], l.diffId] } };
    delete config.history;
    const c = putBlob(Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
      layers: [busybox, l.desc],
    };
    const md = putBlob(Buffer.from(JSON.stringify(manifest)));
    manifests.push({ mediaType: manifest.mediaType, ...md, annotations: { 'org.opencontainers.image.ref.name': tag } });
    console.log(`${tag} ${l.digest} ${l.tocDigest}`);
  };

  image('chain', layer(chainLayer, true));
  const bombs = makeBombs(0);
  image('bomb-honest', layer((p) => bombLayer(p, bombs, false), true));
  image('bomb-lying', layer((p) => bombLayer(p, makeBombs(BOMBS), true), true));
  if (args.sums) writeFileSync(args.sums, bombs.map((b, i) => `/bomb/b${String(i + 1).padStart(2, '0')} ${b.digest.slice(7)}\n`).join(''));
  const genuine = layer((p) => whoLayer(p, 'genuine'), false);
  image('swap-genuine', genuine);
  // The forged blob has the genuine one's size (the footer is read at the end the size labels
  // say, as a forger would arrange): a text a few bytes longer until the sizes match.
  for (let pad = 0; ; pad++) {
    const forged = layer((p) => whoLayer(p, `forged${'!'.repeat(pad)}`), false);
    if (forged.size === genuine.size) {
      image('swap-forged', forged);
      break;
    }
    if (pad === 64) throw new Error(`no forged blob of ${genuine.size} bytes`);
  }

  writeFileSync(join(out, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(out, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
}

main();
