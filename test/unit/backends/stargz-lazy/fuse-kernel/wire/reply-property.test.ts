/**
 * The encoders on arbitrary values: a value the wire cannot carry is a WireError, never a
 * RangeError from the buffer or a silently truncated field.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirentWriter } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/dirent-writer.js';
import { notifyInvalEntry, notifyInvalInode } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/notify.js';
import { replyAttr, replyEntry, replyError, replyInit, replyOpen, replyStatfs, replyXattr } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/reply.js';
import { WireError } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/wire-error.js';
import { ATTR } from './attr-fixture.js';

const big = fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n });
const num = fc.oneof(fc.integer({ min: -(2 ** 33), max: 2 ** 33 }), fc.double(), fc.constantFrom(2 ** 53, 2 ** 64, -0, Number.NaN));

function onlyWireErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}

describe('encoders on arbitrary values', () => {
  it('header, entry, attr, open, xattr, error', () => {
    fc.assert(fc.property(big, big, num, num, num, (unique, id, a, b, c) => {
      onlyWireErrors(() => replyError(unique, a));
      onlyWireErrors(() => replyEntry(unique, id, { ...ATTR, ino: id, size: a, mode: b }, c, a));
      onlyWireErrors(() => replyAttr(unique, { ...ATTR, blocks: a, nlink: b, mtimeNs: id * 1_000_000_000n }, c));
      onlyWireErrors(() => replyOpen(unique, id, a, b));
      onlyWireErrors(() => replyXattr(unique, a));
      onlyWireErrors(() => replyStatfs(unique, { blocks: a, bfree: 0, bavail: 0, files: b, ffree: 0, bsize: c, namelen: 255, frsize: 4096 }));
      onlyWireErrors(() => replyInit(unique, { major: 7, minor: a, maxReadahead: b, flags: id, maxBackground: c, congestionThreshold: 1, maxWrite: 4096, timeGran: 1, maxPages: a, maxStackDepth: b, requestTimeout: c }));
      onlyWireErrors(() => notifyInvalInode(id, unique, id));
      onlyWireErrors(() => notifyInvalEntry(id, 'x'));
    }));
  });
  it('dirent writer', () => {
    fc.assert(fc.property(num, fc.boolean(), fc.string({ maxLength: 300 }), big, num, num, (size, plus, name, nodeid, type, off) => {
      onlyWireErrors(() => new DirentWriter(size, plus).add(name, nodeid, type, off));
      onlyWireErrors(() => new DirentWriter(4096, plus).add(name, nodeid, type, off, { attr: { ...ATTR, ino: nodeid }, entryTtl: 1, attrTtl: 1 }));
    }));
  });
});
