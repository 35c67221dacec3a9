/**
 * scripts/image/write-image.mjs: the command line is checked before anything is written, each
 * wrong value named; a good one gives the image's fixed runtime (entrypoint, cmd, PATH).
 */
import { describe, expect, it } from 'vitest';
import { IMAGE_RUNTIME, parseSpec } from '../../../../scripts/image/write-image.mjs';

const GOOD = ['--out', '/o', '--tag', 'v1', '--epoch', '1700000000', '--arch', 'amd64', '--revision', 'a'.repeat(40), '--version', '0.1.0', '--source', 'https://x', '--layer', '/l1', '--created-by', 'base', '--layer-epoch', '1600000000'];

function withArg(name: string, value: string): string[] {
  const argv = [...GOOD];
  argv[argv.indexOf(name) + 1] = value;
  return argv;
}

describe('parseSpec', () => {
  it('shapes a good command line', () => {
    const { out, spec } = parseSpec(GOOD);
    expect(out).toBe('/o');
    expect(spec.created).toBe('2023-11-14T22:13:20Z');
    expect(spec.labels['org.opencontainers.image.created']).toBe(spec.created);
    expect(spec.labels['org.opencontainers.image.revision']).toBe('a'.repeat(40));
    expect(spec.layers).toEqual([{ dir: '/l1', createdBy: 'base', mtime: 1_600_000_000 }]);
    expect(spec.entrypoint).toEqual(IMAGE_RUNTIME.entrypoint);
    expect(spec.cmd).toEqual(['serve', '--config', '/etc/snaphost/plugins.config.ts']);
    expect(spec.env[0]).toMatch(/^PATH=\/opt\/snaphost\/node\/bin:.*\/usr\/local\/bin/);
  });

  it.each([
    ['--tag', 'a/b', /--tag "a\/b" is not a valid tag/],
    ['--tag', '.x', /is not a valid tag/],
    ['--epoch', '-1', /--epoch/],
    ['--epoch', '1e9', /is not seconds/],
    ['--arch', 'riscv64', /amd64 or arm64/],
    ['--revision', 'main', /is not a git commit/],
    ['--layer-epoch', '1800000000', /at most --epoch/],
  ])('refuses %s %s', (name, value, message) => {
    expect(() => parseSpec(withArg(name, value))).toThrow(message);
  });

  it('accepts a dirty revision, refuses a missing option and unequal layer lists', () => {
    expect(parseSpec(withArg('--revision', `${'b'.repeat(40)}-dirty`)).spec.labels['org.opencontainers.image.revision']).toMatch(/-dirty$/);
    expect(() => parseSpec(GOOD.slice(2))).toThrow(/--out is required/);
    expect(() => parseSpec([...GOOD, '--layer', '/l2'])).toThrow(/give one of each per layer/);
    expect(() => parseSpec([...GOOD, '--bogus'])).toThrow(/bogus/);
  });
});
