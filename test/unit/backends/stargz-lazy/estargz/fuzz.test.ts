/**
 * Generated inputs for the parsers: every outcome must be a result or one of our typed errors
 * (INVALID_ARGUMENT for bad blobs, UNAVAILABLE for data that does not verify), never a crash,
 * a TypeError or a hang; and whatever is accepted must be safe (no path escapes the root, no
 * chunk leaves the blob, no wrong byte is served).
 */
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readChunk } from '../../../../../backends/stargz-lazy/estargz/chunk.js';
import { VerificationError } from '../../../../../backends/stargz-lazy/estargz/errors.js';
import { FOOTER_SIZE, footerFetchSize, parseFooter } from '../../../../../backends/stargz-lazy/estargz/footer.js';
import { LayerIndex } from '../../../../../backends/stargz-lazy/estargz/layer-index.js';
import { openLayer } from '../../../../../backends/stargz-lazy/estargz/open-layer.js';
import { parseToc } from '../../../../../backends/stargz-lazy/estargz/toc.js';
import { checkToc } from '../../../../../backends/stargz-lazy/estargz/toc-schema.js';
import { isSnaphostError } from '../../../../../core/contract/errors.js';
import { bufferReader, estargzFooter, loadFixture, sha256, tarOf } from './make-blob.js';

function expectTypedError(err: unknown): void {
  if (!isSnaphostError(err)) throw err;
  expect(['INVALID_ARGUMENT', 'UNAVAILABLE']).toContain(err.code);
}

const settle = async (p: () => Promise<unknown> | unknown) => {
  try {
    return { ok: true as const, value: await p() };
  } catch (err) {
    expectTypedError(err);
    return { ok: false as const, err };
  }
};

const flips = (length: number) =>
  fc.array(fc.record({ at: fc.nat({ max: length - 1 }), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 });

function mutate(bytes: Uint8Array, changes: { at: number; xor: number }[]): Buffer {
  const out = Buffer.from(bytes);
  for (const { at, xor } of changes) out[at]! ^= xor;
  return out;
}

describe('fuzz: footer', () => {
  it('random tails give a footer inside the blob or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 51, maxLength: 51 }), fc.integer({ min: 51, max: 2 ** 40 }), (tail, size) => {
        try {
          const f = parseFooter(tail, size);
          expect(f.tocOffset).toBeLessThan(size - f.size);
        } catch (err) {
          expectTypedError(err);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid footers give a footer inside the blob or a typed error', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000 }), flips(FOOTER_SIZE), (offset, changes) => {
        const size = offset + 200;
        try {
          const f = parseFooter(mutate(estargzFooter(offset), changes), size);
          expect(f.tocOffset).toBeLessThan(size - f.size);
        } catch (err) {
          expectTypedError(err);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fuzz: TOC', () => {
  it('random bytes, raw or gzip-wrapped, never crash the TOC reader', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), async (bytes, wrap) => {
        const input = wrap ? gzipSync(bytes) : bytes;
        const r = await settle(() => parseToc(input));
        if (r.ok) expect(r.value).toHaveProperty('toc.version', 1);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated tar headers around a valid TOC never crash the TOC reader', async () => {
    const tar = tarOf('stargz.index.json', Buffer.from('{"version":1,"entries":[{"name":"a","type":"dir"}]}'));
    await fc.assert(
      fc.asyncProperty(flips(600), async (changes) => {
        await settle(() => parseToc(gzipSync(mutate(tar, changes))));
      }),
      { numRuns: 500 },
    );
  });

  it('mutated real blobs open to a safe index or fail with a typed error', async () => {
    const { blob } = loadFixture('full');
    const tail = 51 + 1600; // the TOC member and the footer
    await fc.assert(
      fc.asyncProperty(flips(tail), async (changes) => {
        const bad = Buffer.concat([blob.subarray(0, blob.length - tail), mutate(blob.subarray(blob.length - tail), changes)]);
        const r = await settle(() => openLayer(bufferReader(bad)));
        if (r.ok) {
          const { index, footer } = r.value as Awaited<ReturnType<typeof openLayer>>;
          checkSafe(index, footer.tocOffset);
        }
      }),
      { numRuns: 300 },
    );
  });
});

const nameArb = fc
  .array(fc.constantFrom('a', 'b', '.', '..', '', '.wh.a', '.wh..', '.wh...', '.wh..wh..opq', '.wh..wh.x', '.prefetch.landmark', 'c\0'), {
    minLength: 1,
    maxLength: 4,
  })
  .map((parts) => parts.join('/'));

const entryArb = fc.record(
  {
    name: nameArb,
    type: fc.constantFrom('dir', 'reg', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'chunk'),
    size: fc.nat({ max: 300 }),
    linkName: nameArb,
    offset: fc.nat({ max: 1200 }),
    innerOffset: fc.nat({ max: 50 }),
    chunkOffset: fc.nat({ max: 300 }),
    chunkSize: fc.nat({ max: 300 }),
    chunkDigest: fc.constant(sha256(Buffer.from('x'))),
    mode: fc.nat({ max: 0o7777 }),
    modtime: fc.constantFrom('2024-01-02T03:04:05Z', '', 'garbage'),
    xattrs: fc.dictionary(fc.constantFrom('user.a', '', 'trusted.b'), fc.constantFrom('AA==', 'eHl6')),
  },
  { requiredKeys: ['name', 'type'] },
);

function checkSafe(index: LayerIndex, tocOffset: number): void {
  for (const node of index.nodes()) {
    expect(node.path.split('/')).not.toContain('..');
    expect(node.path).not.toContain('\0');
    // No listed name is `.`, `..` or empty: neither a child nor a whiteout's target.
    for (const name of [...node.children.keys(), ...node.whiteouts.keys()]) expect(['', '.', '..']).not.toContain(name);
    let covered = 0;
    for (const c of node.chunks) {
      expect(c.chunkOffset).toBe(covered);
      expect(c.chunkSize).toBeGreaterThan(0);
      expect(c.offset + c.compressedSize).toBeLessThanOrEqual(tocOffset);
      covered += c.chunkSize;
    }
    if (node.type === 'reg') expect(covered).toBe(node.size);
  }
}

describe('fuzz: layer index', () => {
  it('random TOCs build a safe tree or fail with a typed error', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 25 }), fc.integer({ min: 1, max: 1500 }), (entries, tocOffset) => {
        try {
          const index = LayerIndex.build(checkToc({ version: 1, entries }), { tocOffset });
          checkSafe(index, tocOffset);
          for (const node of index.nodes()) {
            if (node.type === 'reg') expect(index.chunksFor(node, 0, node.size).length).toBe(node.chunks.length);
          }
        } catch (err) {
          expectTypedError(err);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('fuzz: chunks', () => {
  it('a corrupted member yields the right bytes or a VerificationError, never other bytes', async () => {
    const { blob, expected } = loadFixture('full');
    const { index } = await openLayer(bufferReader(blob), { expectedTocDigest: expected.tocDigest });
    const c = index.lookup('data/big.bin')!.chunks[3]!;
    const member = blob.subarray(c.offset, c.offset + c.compressedSize);
    const good = await readChunk(member, c);
    await fc.assert(
      fc.asyncProperty(flips(member.length), fc.nat({ max: member.length }), async (changes, cut) => {
        const r = await settle(() => readChunk(mutate(member, changes).subarray(0, member.length - (cut % 16)), c));
        if (r.ok) expect((r.value as Buffer).equals(good)).toBe(true);
        else expect(r.err).toBeInstanceOf(VerificationError);
      }),
      { numRuns: 500 },
    );
  });
});

it('footerFetchSize never asks for more than the blob', () => {
  fc.assert(fc.property(fc.nat(), (n) => footerFetchSize(n) <= Math.min(n, 72)));
});
