/**
 * Random access to one layer blob in a registry: `size()`, `readRange()` and `readRanges()`.
 *
 * - Several ranges go out as one multi-range GET (`Range: bytes=a-b,c-d`), parsed from the
 *   multipart/byteranges answer. A server that answers with the full body, or with only part
 *   of what was asked, is remembered (per origin) and asked one range at a time from then on;
 *   a server that ignores Range altogether still works (the slice is cut from the stream).
 * - Every Content-Range is checked against what was asked; a reader never returns more or
 *   fewer bytes than asked, it throws instead.
 * - Network errors, timeouts, 5xx and 429 are retried, then the next location is tried
 *   (`location-failover.ts`); the first failure is thrown:
 *   UnavailableError (unreachable, timeouts, bad answers), NotFoundError (404),
 *   InvalidArgumentError (a range past the end), RegistryStatusError (401/403/other 4xx).
 * - Each call takes an optional AbortSignal and rejects with its reason when it aborts.
 *
 * Buffers returned by `readRanges` may share memory with each other.
 */
import { InvalidArgumentError } from '../../../core/sdk.js';
import { allOrAbort } from './all-or-abort.js';
import {
  contentRangeLength,
  mergeRanges,
  parseContentRange,
  rangeHeader,
  type ByteRange,
  type ContentRange,
} from './content-range.js';
import { cover, slice } from './byte-spans.js';
import { LocationFailover } from './location-failover.js';
import { byterangesBoundary, parseByteranges, type BodyPart } from './multipart.js';
import { discard, drain, readAtMost, readExactly, readSlice } from './read-body.js';
import type { BlobLocation, BlobResponse, BlobTransport } from './blob-transport.js';
import { exchange, protocolError, statusError } from './registry-errors.js';

/** Room for part headers in a multipart answer, per part and in all. */
const PART_OVERHEAD = 1024;
const BODY_OVERHEAD = 8192;

export class BlobReader {
  private knownSize: number | undefined;
  readonly #failover: LocationFailover;

  constructor(
    private readonly client: BlobTransport,
    readonly digest: string,
    readonly locations: readonly BlobLocation[],
  ) {
    if (locations.length === 0) throw new InvalidArgumentError(`blob ${digest}: no location to fetch it from`);
    this.#failover = new LocationFailover(client, digest, locations);
  }

  /** The blob's size in bytes (HEAD, else GET of byte 0 and its Content-Range); cached. */
  async size(signal?: AbortSignal): Promise<number> {
    if (this.knownSize !== undefined) return this.knownSize;
    const size = await this.#failover.run(signal, (loc, s) => this.fetchSize(loc, s));
    this.learnSize(size, this.#failover.preferred);
    return size;
  }

  /**
   * The blob's size and its last `length` bytes (all of it when it is shorter), in ONE request
   * when the server takes a suffix range (`Range: bytes=-N`: the Content-Range says the size),
   * or answers it with the whole blob (200) no longer than `length`; otherwise, or when the size
   * is known already, `size()` then a range read.
   */
  async readTail(length: number, signal?: AbortSignal): Promise<{ size: number; data: Buffer }> {
    if (!Number.isSafeInteger(length) || length <= 0) {
      throw new InvalidArgumentError(`blob ${this.digest}: tail length must be a positive integer, got ${length}`);
    }
    if (this.knownSize === undefined) {
      const got = await this.#failover.run(signal, (loc, s) => this.fetchSuffix(loc, length, s));
      if (got !== undefined) return got;
    }
    const size = await this.size(signal);
    const n = Math.min(length, size);
    return { size, data: n === 0 ? Buffer.alloc(0) : await this.readRange(size - n, n, signal) };
  }

  /** Exactly `length` bytes from `offset`. */
  async readRange(offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    const [buf] = await this.readRanges([{ offset, length }], signal);
    return buf!;
  }

  /** Exactly the bytes of each range, in the order asked (ranges may overlap, be unsorted or empty). */
  async readRanges(ranges: readonly ByteRange[], signal?: AbortSignal): Promise<Buffer[]> {
    for (const r of ranges) this.checkRange(r);
    const spans = mergeRanges(ranges);
    if (spans.length > 0) {
      const data = await this.#failover.run(signal, (loc, s) => this.fetchSpans(loc, spans, s));
      return ranges.map((r) => (r.length === 0 ? Buffer.alloc(0) : slice(spans, data, r)));
    }
    return ranges.map(() => Buffer.alloc(0));
  }

  private checkRange(r: ByteRange): void {
    const ok = Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length) && r.offset >= 0 && r.length >= 0;
    if (!ok || !Number.isSafeInteger(r.offset + r.length)) {
      throw new InvalidArgumentError(`blob ${this.digest}: invalid range offset=${r.offset} length=${r.length}`);
    }
    if (this.knownSize !== undefined && r.length > 0 && r.offset + r.length > this.knownSize) {
      throw new InvalidArgumentError(
        `blob ${this.digest}: range ${r.offset}-${r.offset + r.length - 1} is past the end of the blob (${this.knownSize} bytes)`,
      );
    }
  }

  private async fetchSize(loc: BlobLocation, signal: AbortSignal): Promise<number> {
    return exchange(loc, async () => {
      const head = await this.client.send(loc, 'HEAD', {}, signal);
      await drain(head);
      if (head.statusCode === 200) {
        this.checkDigestHeader(loc, head);
        const length = contentLength(head);
        if (length !== undefined) return length;
      } else if (head.statusCode === 404 || head.statusCode >= 500 || head.statusCode === 429) {
        throw statusError(loc.what, head.statusCode, head.headers['retry-after']);
      }
      // No usable HEAD (405, no Content-Length, …): the total of a one-byte range says it.
      const res = await this.client.send(loc, 'GET', { range: 'bytes=0-0' }, signal);
      if (res.statusCode === 200) {
        discard(res);
        const length = contentLength(res);
        if (length === undefined) throw protocolError(loc.what, 'neither HEAD nor GET tell the blob size');
        return length;
      }
      await drain(res);
      if (res.statusCode === 206 || res.statusCode === 416) {
        const total = /\/(\d{1,16})\s*$/.exec(String(res.headers['content-range'] ?? ''))?.[1];
        if (total === undefined) throw protocolError(loc.what, `HTTP ${res.statusCode} without a Content-Range total`);
        return Number(total);
      }
      throw statusError(loc.what, res.statusCode, res.headers['retry-after']);
    });
  }

  /** A suffix-range GET; undefined when the server does not answer it with the tail (206). */
  private async fetchSuffix(loc: BlobLocation, length: number, signal: AbortSignal): Promise<{ size: number; data: Buffer } | undefined> {
    return exchange(loc, async () => {
      const res = await this.client.send(loc, 'GET', { range: `bytes=-${length}` }, signal);
      if (res.statusCode === 206) {
        const cr = parseContentRange(res.headers['content-range']);
        if (!cr || cr.total === undefined || cr.last !== cr.total - 1 || contentRangeLength(cr) !== Math.min(length, cr.total)) {
          // Not the tail (a server that misreads suffix ranges): ask the usual way.
          discard(res);
          this.client.log.debug({ blob: this.digest, url: loc.url, contentRange: res.headers['content-range'] }, 'suffix range not understood');
          return undefined;
        }
        this.checkDigestHeader(loc, res);
        this.learnTotal(cr, loc);
        return { size: cr.total, data: await readExactly(res, contentRangeLength(cr)) };
      }
      // 200 (suffix ranges ignored) with a blob no longer than asked: that answer is all of it.
      const whole = res.statusCode === 200 ? contentLength(res) : undefined;
      if (whole !== undefined && whole > 0 && whole <= length) {
        this.checkDigestHeader(loc, res);
        this.learnSize(whole, loc);
        return { size: whole, data: await readExactly(res, whole) };
      }
      // 200 of a longer blob, 416 (an empty blob, or not understood): ask the usual way.
      if (res.statusCode === 200 || res.statusCode === 416) {
        discard(res);
        return undefined;
      }
      await drain(res);
      throw statusError(loc.what, res.statusCode, res.headers['retry-after']);
    });
  }

  /** Fetches merged spans: multi-range requests while the server handles them, else one by one. */
  private async fetchSpans(loc: BlobLocation, spans: ByteRange[], signal: AbortSignal): Promise<Buffer[]> {
    if (spans.length === 1 || !this.client.supportsMultiRange(loc)) {
      return allOrAbort(signal, spans.map((span) => (s) => this.fetchSingle(loc, span, s)));
    }
    const max = this.client.options.maxRangesPerRequest;
    const groups: ByteRange[][] = [];
    for (let i = 0; i < spans.length; i += max) groups.push(spans.slice(i, i + max));
    const results = await allOrAbort(
      signal,
      groups.map((g) => (s) => (g.length === 1 ? this.fetchSingle(loc, g[0]!, s).then((b) => [b]) : this.fetchGroup(loc, g, s))),
    );
    return results.flat();
  }

  private async fetchSingle(loc: BlobLocation, span: ByteRange, signal: AbortSignal): Promise<Buffer> {
    return exchange(loc, async () => {
      const res = await this.client.send(loc, 'GET', { range: rangeHeader([span]) }, signal);
      if (res.statusCode === 206) {
        const cr = parseContentRange(res.headers['content-range']);
        const askedLast = span.offset + span.length - 1;
        if (cr && cr.first === span.offset && cr.last < askedLast && cr.total !== undefined && cr.last === cr.total - 1) {
          // The server clipped the range at the end of the blob.
          discard(res);
          this.learnTotal(cr, loc);
          throw new InvalidArgumentError(`${loc.what}: range ${span.offset}-${askedLast} is past the end of the blob (${cr.total} bytes)`);
        }
        if (!cr || cr.first !== span.offset || cr.last !== askedLast) {
          discard(res);
          throw protocolError(
            loc.what,
            `asked for bytes ${span.offset}-${askedLast}, got Content-Range ${JSON.stringify(res.headers['content-range'] ?? null)}`,
          );
        }
        this.learnTotal(cr, loc);
        return readExactly(res, span.length);
      }
      if (res.statusCode === 200) {
        const length = contentLength(res);
        if (length !== undefined) this.learnSize(length, loc);
        if (length !== undefined && span.offset + span.length > length) {
          discard(res);
          throw new InvalidArgumentError(
            `${loc.what}: range ${span.offset}-${span.offset + span.length - 1} is past the end of the blob (${length} bytes)`,
          );
        }
        return readSlice(res, span.offset, span.length);
      }
      await drain(res);
      throw statusError(loc.what, res.statusCode, res.headers['retry-after']);
    });
  }

  /** One multi-range GET; what the answer does not cover is fetched range by range. */
  private async fetchGroup(loc: BlobLocation, group: ByteRange[], signal: AbortSignal): Promise<Buffer[]> {
    const parts = await exchange(loc, async (): Promise<BodyPart[] | undefined> => {
      const res = await this.client.send(loc, 'GET', { range: rangeHeader(group) }, signal);
      if (res.statusCode === 200) {
        discard(res);
        this.client.markSingleRangeOnly(loc, 'answered a multi-range request with the full blob (200)');
        return undefined;
      }
      if (res.statusCode !== 206) {
        await drain(res);
        throw statusError(loc.what, res.statusCode, res.headers['retry-after']);
      }
      const boundary = byterangesBoundary(res.headers['content-type']);
      if (boundary === undefined) {
        const cr = parseContentRange(res.headers['content-range']);
        if (!cr) {
          discard(res);
          throw protocolError(loc.what, `206 without multipart body or valid Content-Range (${JSON.stringify(res.headers['content-range'] ?? null)})`);
        }
        this.checkPart(loc, group, cr, res);
        return [{ range: cr, data: await readExactly(res, contentRangeLength(cr)) }];
      }
      const asked = group.reduce((n, r) => n + r.length, 0);
      const body = await readAtMost(res, asked + group.length * PART_OVERHEAD + BODY_OVERHEAD);
      let parsed: BodyPart[];
      try {
        parsed = parseByteranges(body, boundary);
      } catch (err) {
        throw protocolError(loc.what, `multipart/byteranges: ${(err as Error).message}`);
      }
      for (const p of parsed) this.checkPart(loc, group, p.range);
      return parsed;
    });
    if (parts === undefined) return allOrAbort(signal, group.map((span) => (s) => this.fetchSingle(loc, span, s)));
    const found = group.map((span) => cover(parts, span));
    const missing = group.filter((_, i) => found[i] === undefined);
    if (missing.length > 0) {
      this.client.markSingleRangeOnly(loc, `answered ${group.length - missing.length} of ${group.length} ranges of a multi-range request`);
      const fetched = await allOrAbort(signal, missing.map((span) => (s) => this.fetchSingle(loc, span, s)));
      let next = 0;
      return found.map((buf) => buf ?? fetched[next++]!);
    }
    return found as Buffer[];
  }

  /** A part must lie inside what the group asked for, and agree on the blob size. */
  private checkPart(loc: BlobLocation, group: ByteRange[], cr: ContentRange, res?: BlobResponse): void {
    const first = group[0]!.offset;
    const last = group[group.length - 1]!.offset + group[group.length - 1]!.length - 1;
    if (cr.first < first || cr.last > last) {
      if (res) discard(res);
      throw protocolError(loc.what, `asked for ${rangeHeader(group)}, got a part with bytes ${cr.first}-${cr.last}`);
    }
    this.learnTotal(cr, loc);
  }

  private learnTotal(cr: ContentRange, loc: BlobLocation): void {
    if (cr.total !== undefined) this.learnSize(cr.total, loc);
  }

  private learnSize(size: number, loc: BlobLocation): void {
    if (this.knownSize === undefined) this.knownSize = size;
    else if (this.knownSize !== size) throw protocolError(loc.what, `blob size ${size} differs from ${this.knownSize} seen before`);
  }

  private checkDigestHeader(loc: BlobLocation, res: BlobResponse): void {
    const d = res.headers['docker-content-digest'];
    if (typeof d === 'string' && d !== '' && d !== this.digest) throw protocolError(loc.what, `Docker-Content-Digest is ${d}`);
  }
}

function contentLength(res: BlobResponse): number | undefined {
  const v = res.headers['content-length'];
  if (typeof v !== 'string' || !/^\d{1,16}$/.test(v)) return undefined;
  return Number(v);
}
