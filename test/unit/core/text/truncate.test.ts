import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capBytes, ECHO_MAX_CHARS, quoteInput, truncateInput } from '../../../../core/text/truncate.js';

describe('truncateInput / quoteInput', () => {
  it('keeps short values whole and cuts long ones with their full size', () => {
    expect(truncateInput('abc')).toBe('abc');
    expect(quoteInput('a"b')).toBe('"a\\"b"');
    const long = 'x'.repeat(32 * 1024);
    expect(truncateInput(long)).toBe(`${'x'.repeat(ECHO_MAX_CHARS)}…(32768 bytes)`);
    expect(quoteInput(long)).toBe(`"${'x'.repeat(ECHO_MAX_CHARS)}"…(32768 bytes)`);
  });

  it('never splits a surrogate pair and describes non-strings', () => {
    const s = `${'a'.repeat(ECHO_MAX_CHARS - 1)}🚀🚀`;
    expect(truncateInput(s)).toBe(`${'a'.repeat(ECHO_MAX_CHARS - 1)}…(${Buffer.byteLength(s)} bytes)`);
    expect(quoteInput(undefined as unknown as string)).toBe('undefined');
    expect(quoteInput(42 as unknown as string)).toBe('42');
  });

  it('bounds the echo of any string: at most max characters plus a short note', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 3000 }), fc.integer({ min: 1, max: 300 }), (v, max) => {
        const out = truncateInput(v, max);
        expect(out.length).toBeLessThanOrEqual(max + 24);
        if (v.length <= max) expect(out).toBe(v);
        else expect(v.startsWith(out.slice(0, out.lastIndexOf('…(')))).toBe(true);
      }),
    );
  });
});

describe('capBytes', () => {
  it('keeps any text within the byte bound, at a character boundary, noting the full size', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 5000 }), fc.integer({ min: 32, max: 4096 }), (text, max) => {
        const out = capBytes(text, max);
        expect(Buffer.byteLength(out)).toBeLessThanOrEqual(max);
        if (Buffer.byteLength(text) <= max) {
          expect(out).toBe(text);
        } else {
          expect(out.endsWith(`…(${Buffer.byteLength(text)} bytes)`)).toBe(true);
          expect(text.startsWith(out.slice(0, out.lastIndexOf('…(')))).toBe(true); // no half character
        }
      }),
    );
  });
});
