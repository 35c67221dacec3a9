/**
 * The TOC gzip member holds a tar archive whose first regular entry is `stargz.index.json`.
 * Only that one entry is needed, so this reads tar headers directly (ustar, with pax `x`/`g`
 * headers and the GNU/star size and name forms) instead of pulling in a streaming tar
 * library: a few dozen lines, fully checked, no state to leak.
 */
import { MalformedEstargzError } from './errors.js';

export const TOC_TAR_NAME = 'stargz.index.json';

const BLOCK = 512;
/** pax headers allowed before the TOC entry (a writer emits at most one of each kind). */
const MAX_HEADERS = 4;

/** The content of the `stargz.index.json` entry of the decompressed TOC member. */
export function extractTocJson(tar: Uint8Array): Uint8Array {
  let at = 0;
  let pax: Map<string, string> = new Map();
  for (let n = 0; n < MAX_HEADERS; n++) {
    if (at + BLOCK > tar.length) throw bad(`tar header at ${at} runs past the end (${tar.length} bytes)`);
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) throw bad(`no ${TOC_TAR_NAME} entry before the end of the tar archive`);
    checkChecksum(header, at);
    const type = header[156]!;
    const size = parseNumber(header.subarray(124, 136), 'size', at);
    const dataAt = at + BLOCK;
    if (size > tar.length - dataAt) throw bad(`tar entry at ${at} has size ${size}, past the end of the TOC`);
    const data = tar.subarray(dataAt, dataAt + size);
    const next = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 0x78 /* x */) {
      pax = parsePax(data, at);
    } else if (type === 0x67 /* g */) {
      // Global pax records: nothing in them matters for finding the TOC entry.
    } else if (type === 0x30 /* 0 */ || type === 0 /* old regular file */) {
      const name = pax.get('path') ?? headerName(header);
      if (name !== TOC_TAR_NAME) throw bad(`TOC tar entry is named ${JSON.stringify(name)}, want ${TOC_TAR_NAME}`);
      const paxSize = pax.get('size');
      if (paxSize === undefined) return data;
      if (!/^\d{1,15}$/.test(paxSize)) throw bad(`pax size ${JSON.stringify(paxSize)} is not a number`);
      const realSize = Number(paxSize);
      if (realSize > tar.length - dataAt) throw bad(`tar entry at ${at} has pax size ${realSize}, past the end`);
      return tar.subarray(dataAt, dataAt + realSize);
    } else {
      throw bad(`tar entry at ${at} has type ${JSON.stringify(String.fromCharCode(type))}, want a regular file`);
    }
    at = next;
  }
  throw bad(`more than ${MAX_HEADERS - 1} pax headers before the TOC entry`);
}

function bad(reason: string): MalformedEstargzError {
  return new MalformedEstargzError(`TOC tar: ${reason}`);
}

function checkChecksum(header: Uint8Array, at: number): void {
  const stored = parseNumber(header.subarray(148, 156), 'checksum', at);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) throw bad(`tar header at ${at} has a bad checksum`);
}

/** Octal (NUL/space padded) or base-256 (high bit set) numeric field. */
function parseNumber(field: Uint8Array, what: string, at: number): number {
  if (field[0]! & 0x80) {
    if (field[0] !== 0x80) throw bad(`tar ${what} at ${at} is negative or too large`);
    let value = 0;
    for (let i = 1; i < field.length; i++) {
      value = value * 256 + field[i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw bad(`tar ${what} at ${at} is too large`);
    }
    return value;
  }
  const text = Buffer.from(field).toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]*$/.test(text)) throw bad(`tar ${what} at ${at} is not octal: ${JSON.stringify(text)}`);
  return text === '' ? 0 : parseInt(text, 8);
}

function cString(field: Uint8Array): string {
  const end = field.indexOf(0);
  return Buffer.from(end === -1 ? field : field.subarray(0, end)).toString('utf8');
}

function headerName(header: Uint8Array): string {
  const name = cString(header.subarray(0, 100));
  const ustar = Buffer.from(header.subarray(257, 262)).toString('latin1') === 'ustar';
  const prefix = ustar ? cString(header.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

/** pax records: "<len> <key>=<value>\n", each length counting the whole record. */
function parsePax(data: Uint8Array, at: number): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) throw bad(`pax header at ${at} has a bad record length`);
    const len = Number(Buffer.from(data.subarray(pos, space)).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= space - pos + 1 || pos + len > data.length) {
      throw bad(`pax header at ${at} has a bad record length`);
    }
    const record = Buffer.from(data.subarray(space + 1, pos + len)).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0 || !record.endsWith('\n')) throw bad(`pax header at ${at} has a malformed record`);
    records.set(record.slice(0, eq), record.slice(eq + 1, -1));
    pos += len;
  }
  return records;
}
