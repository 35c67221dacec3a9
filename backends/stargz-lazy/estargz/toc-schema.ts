/**
 * The TOC (`stargz.index.json`) as the eStargz spec defines it. Typed fields are validated;
 * unknown fields are tolerated (the spec's own example carries `NumLink`) and dropped.
 * Omitted fields mean zero / empty, as the Go writer omits them (`omitempty`).
 *
 * This schema uses zod's v4 API (shipped inside the same zod package as the v3 API the SDK
 * exports): a TOC can hold a million entries, and v4 validates them about 4× faster. It is
 * never embedded in a backend's options schema, so the two APIs do not meet.
 */
import { z } from 'zod/v4';

export const ENTRY_TYPES = ['dir', 'reg', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'chunk'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

const offset = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const u32 = z.number().int().nonnegative().max(0xffff_ffff);
/** The digests go-digest accepts (see `digest.ts`). */
const DIGEST_RE = /^(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/;
const digest = z.string().regex(DIGEST_RE, { error: 'expected a digest like sha256:<64 lowercase hex>' });
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const base64 = z.string().regex(BASE64_RE, { error: 'expected base64' });

export const tocEntrySchema = z.object({
  name: z.string(),
  type: z.enum(ENTRY_TYPES),
  /** Uncompressed size of a regular file. */
  size: offset.optional(),
  /** RFC 3339 UTC modification time; empty or absent means zero. */
  modtime: z.string().optional(),
  /** Target of a symlink or hardlink. */
  linkName: z.string().optional(),
  /** tar mode: permission bits, setuid/setgid/sticky, sometimes the file type bits too. */
  mode: u32.optional(),
  uid: u32.optional(),
  gid: u32.optional(),
  /** Present only on the first entry of each uid/gid; the reader fills the others. */
  userName: z.string().optional(),
  groupName: z.string().optional(),
  devMajor: u32.optional(),
  devMinor: u32.optional(),
  /** Extended attributes; values are bytes, base64 in JSON. */
  xattrs: z.record(z.string(), base64).optional(),
  /** Digest of the whole regular file. */
  digest: digest.optional(),
  /** Offset in the blob of the gzip member holding this reg/chunk's data. */
  offset: offset.optional(),
  /** Uncompressed offset of the data inside the stream that starts at `offset`. */
  innerOffset: offset.optional(),
  /** Offset of this chunk in the file. */
  chunkOffset: offset.optional(),
  /** Uncompressed bytes of this chunk; 0 or absent for the last (or only) one: "to the end". */
  chunkSize: offset.optional(),
  /** Digest of this chunk's uncompressed bytes. */
  chunkDigest: digest.optional(),
});

export const tocSchema = z.object({
  version: z.literal(1),
  entries: z.array(tocEntrySchema),
});

export type TocEntry = z.output<typeof tocEntrySchema>;
export type Toc = z.output<typeof tocSchema>;
