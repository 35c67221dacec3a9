/**
 * Builds request messages the way the kernel lays them out (fuse_in_header + body), for the
 * decoder's tests. Independent of the decoder: offsets written out by hand from fuse.h.
 */
export interface HeaderFields {
  opcode: number;
  unique?: bigint;
  nodeid?: bigint;
  uid?: number;
  gid?: number;
  pid?: number;
  /** Extension bytes appended after the body (a multiple of 8). */
  ext?: Uint8Array;
  /** Overrides the header's len (to build inconsistent messages). */
  len?: number;
}

export function request(h: HeaderFields, body: Uint8Array = new Uint8Array(0)): Buffer {
  const ext = h.ext ?? new Uint8Array(0);
  const buf = Buffer.alloc(40 + body.length + ext.length);
  buf.writeUInt32LE(h.len ?? buf.length, 0);
  buf.writeUInt32LE(h.opcode, 4);
  buf.writeBigUInt64LE(h.unique ?? 7n, 8);
  buf.writeBigUInt64LE(h.nodeid ?? 1n, 16);
  buf.writeUInt32LE(h.uid ?? 1000, 24);
  buf.writeUInt32LE(h.gid ?? 1001, 28);
  buf.writeUInt32LE(h.pid ?? 4242, 32);
  buf.writeUInt16LE(ext.length / 8, 36);
  buf.set(body, 40);
  buf.set(ext, 40 + body.length);
  return buf;
}

/** A body of little-endian fields: [bytes, value] pairs, widths 2, 4 or 8. */
export function fields(...parts: [2 | 4 | 8, number | bigint][]): Buffer {
  const buf = Buffer.alloc(parts.reduce((n, [w]) => n + w, 0));
  let at = 0;
  for (const [w, v] of parts) {
    if (w === 8) buf.writeBigUInt64LE(BigInt(v), at);
    else if (w === 4) buf.writeUInt32LE(Number(v), at);
    else buf.writeUInt16LE(Number(v), at);
    at += w;
  }
  return buf;
}

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

/** All parts of a reply as one buffer (what writev puts on the device). */
export function joined(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}
