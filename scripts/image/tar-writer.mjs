/**
 * A reproducible tar of a directory tree, for an OCI image layer: the same tree gives the same
 * bytes on any machine, whatever the umask, owner, timestamps or readdir order of the build.
 *
 * - entries in byte order of their path, each directory before what it holds;
 * - every mtime is the one given (a commit's time), uid/gid 0, no user or group names;
 * - modes normalised: directories and executables 0755 (sticky directories, /tmp, 1777), other
 *   files 0644, symlinks 0777 (no setuid/setgid: the image runs as root and needs none);
 * - ustar headers; a pax `path`/`linkpath` record only where a name does not fit (never atime,
 *   ctime or mtime records);
 * - regular files, directories and symbolic links only: anything else (device, socket, fifo,
 *   hard link count aside) is an error naming the path, as is a file over 8 GiB.
 *
 * `entries(root)` lists what goes in; `tarStream(root, entries, mtime)` yields the bytes.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

const BLOCK = 512;
const MAX_SIZE = 8 * 1024 ** 3 - 1; // octal size field: 11 digits
const MAX_ENTRIES = 1_000_000;

/** @typedef {{ path: string, type: 'dir' | 'file' | 'symlink', mode: number, size: number, link?: string, abs: string }} TarEntry */

/** Compare by the UTF-8 bytes of the path, so the order does not depend on the locale. */
function byteOrder(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Every entry under `root` (not `root` itself), depth-first, children in byte order.
 * Paths are relative, '/'-separated, directories without a trailing slash.
 * @param {string} root
 * @returns {Promise<TarEntry[]>}
 */
export async function entries(root) {
  /** @type {TarEntry[]} */
  const out = [];
  async function walk(dir, rel) {
    const names = (await readdir(dir)).sort(byteOrder);
    for (const name of names) {
      const abs = join(dir, name);
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs);
      if (out.length >= MAX_ENTRIES) throw new Error(`${root}: more than ${MAX_ENTRIES} entries`);
      if (st.isDirectory()) {
        out.push({ path, type: 'dir', mode: st.mode & 0o1000 ? 0o1777 : 0o755, size: 0, abs });
        await walk(abs, path);
      } else if (st.isSymbolicLink()) {
        out.push({ path, type: 'symlink', mode: 0o777, size: 0, link: await readlink(abs), abs });
      } else if (st.isFile()) {
        if (st.size > MAX_SIZE) throw new Error(`${path}: ${st.size} bytes is over the 8 GiB a ustar entry holds`);
        out.push({ path, type: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, size: st.size, abs });
      } else {
        throw new Error(`${path}: not a regular file, directory or symbolic link (a layer holds only those)`);
      }
    }
  }
  await walk(root, '');
  return out;
}

function octal(n, width) {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** Split `name` into ustar (prefix, name), or undefined when it does not fit. */
function splitUstar(name) {
  const bytes = Buffer.byteLength(name);
  if (bytes <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '') return { prefix, name: rest };
  }
  return undefined;
}

/** One 512-byte ustar header. */
export function header({ name, prefix = '', mode, size, typeflag, link = '', mtime }) {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(mtime, 12), 136, 12, 'ascii');
  h.fill(0x20, 148, 156); // checksum counted as spaces
  h.write(typeflag, 156, 1, 'ascii');
  h.write(link, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

/** A pax record `"<len> key=value\n"`, its length counting itself. */
export function paxRecord(key, value) {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function padding(size) {
  const rem = size % BLOCK;
  return rem === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rem, 0);
}

/** The header block(s) of one entry: a pax header first when the name or link needs one. */
export function entryHeaders(entry, mtime) {
  const tarName = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const typeflag = entry.type === 'dir' ? '5' : entry.type === 'symlink' ? '2' : '0';
  const link = entry.link ?? '';
  const split = splitUstar(tarName);
  const linkFits = Buffer.byteLength(link) <= 100;
  const blocks = [];
  let records = '';
  if (!split) records += paxRecord('path', tarName);
  if (!linkFits) records += paxRecord('linkpath', link);
  if (records !== '') {
    const data = Buffer.from(records, 'utf8');
    const base = entry.path.split('/').pop() ?? 'entry';
    const paxName = splitUstar(`PaxHeaders/${base}`) ?? { prefix: '', name: 'PaxHeaders/entry' };
    blocks.push(header({ ...paxName, mode: 0o644, size: data.length, typeflag: 'x', mtime }), data, padding(data.length));
  }
  const fitted = split ?? { prefix: '', name: truncateUtf8(tarName, 100) };
  blocks.push(header({ ...fitted, mode: entry.mode, size: entry.type === 'file' ? entry.size : 0, typeflag, link: linkFits ? link : truncateUtf8(link, 100), mtime }));
  return Buffer.concat(blocks);
}

function truncateUtf8(s, bytes) {
  let out = s;
  while (Buffer.byteLength(out) > bytes) out = out.slice(0, -1);
  return out;
}

/**
 * The tar's bytes, entry by entry, then the two zero blocks that end an archive. A file whose
 * size changed since `entries()` listed it is an error (the layer would lie about it).
 * @param {TarEntry[]} list
 * @param {number} mtime seconds since the epoch
 */
export async function* tarStream(list, mtime) {
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > 0o77777777777) throw new Error(`mtime ${mtime} is not a valid tar time`);
  for (const entry of list) {
    yield entryHeaders(entry, mtime);
    if (entry.type !== 'file') continue;
    let seen = 0;
    for await (const chunk of createReadStream(entry.abs)) {
      seen += chunk.length;
      if (seen > entry.size) throw new Error(`${entry.path} grew while the layer was written`);
      yield chunk;
    }
    if (seen !== entry.size) throw new Error(`${entry.path} shrank while the layer was written`);
    yield padding(entry.size);
  }
  yield Buffer.alloc(BLOCK * 2, 0);
}
