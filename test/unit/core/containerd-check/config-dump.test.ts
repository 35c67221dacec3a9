import { describe, expect, it } from 'vitest';
import { configArgument } from '../../../../core/containerd-check/config-dump.js';

describe('configArgument (containerd command line)', () => {
  it.each([
    [[], undefined],
    [['--config', '/etc/c.toml'], '/etc/c.toml'],
    [['-c', 'rel.toml', '--log-level', 'debug'], 'rel.toml'],
    [['--config=/x.toml'], '/x.toml'],
    [['--log-level', 'info'], undefined],
    [['-c', '/a.toml', '--config', '/b.toml'], '/b.toml'],
    [['--', '--config', '/x.toml'], undefined],
  ])('%j → %j', (args, want) => {
    expect(configArgument(args)).toBe(want);
  });
});
