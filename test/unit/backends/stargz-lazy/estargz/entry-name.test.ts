import { describe, expect, it } from 'vitest';
import {
  baseName,
  normalizeEntryName,
  parentPath,
  tryNormalizeEntryName,
} from '../../../../../backends/stargz-lazy/estargz/entry-name.js';
import { MalformedEstargzError } from '../../../../../backends/stargz-lazy/estargz/errors.js';

describe('normalizeEntryName', () => {
  it('cleans names the way tar writers spell them', () => {
    expect(normalizeEntryName('bin/')).toBe('bin');
    expect(normalizeEntryName('./usr/bin/env')).toBe('usr/bin/env');
    expect(normalizeEntryName('/etc//passwd')).toBe('etc/passwd');
    expect(normalizeEntryName('a/./b/../c/')).toBe('a/c');
    expect(normalizeEntryName('./')).toBe('');
    expect(normalizeEntryName('/')).toBe('');
    expect(normalizeEntryName('')).toBe('');
    expect(normalizeEntryName('..a/b..')).toBe('..a/b..');
    // Two trailing slashes: the fast path strips one, the rest must not leave an empty name
    // (the layer-index fuzz test found 'a//' listed as a directory with an empty child).
    expect(normalizeEntryName('a//')).toBe('a');
    expect(normalizeEntryName('a/b///')).toBe('a/b');
  });

  it('refuses names that escape the root, hold NUL, or exceed PATH_MAX / NAME_MAX', () => {
    for (const name of ['../../etc/passwd', '..', 'a/../../b', '/../x', 'a\0b', 'x'.repeat(256), `${'a/'.repeat(2100)}b`]) {
      expect(() => normalizeEntryName(name), name.slice(0, 30)).toThrow(MalformedEstargzError);
      expect(tryNormalizeEntryName(name)).toBeUndefined();
    }
    expect(() => normalizeEntryName('../../etc/passwd')).toThrow(/escapes the layer root/);
    expect(normalizeEntryName('x'.repeat(255))).toHaveLength(255);
  });

  it('splits clean paths', () => {
    expect(parentPath('a/b/c')).toBe('a/b');
    expect(parentPath('a')).toBe('');
    expect(baseName('a/b/c')).toBe('c');
    expect(baseName('a')).toBe('a');
  });
});
