import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../core/contract/errors.js';
import {
  infoFromProto,
  infoToProto,
  infoUpdateToProto,
  kindFromProto,
  kindToProto,
  labelsFromProto,
  labelsToProto,
  mountFromProto,
  mountToProto,
  mountsToProto,
  timestampFromProto,
  timestampToProto,
  usageFromProto,
  usageToProto,
} from '../../../../core/grpc/convert.js';
import type { Info } from '../../../../core/contract/snapshotter.js';

const asOutput = <T>(v: T) => JSON.parse(JSON.stringify(v)) as never;

describe('timestamps', () => {
  it('keep every nanosecond', () => {
    for (const t of [0n, 1n, 999_999_999n, 1_000_000_000n, 1_732_000_000_123_456_789n, -1n, -1_000_000_001n]) {
      const p = timestampToProto(t);
      expect(p.nanos).toBeGreaterThanOrEqual(0);
      expect(p.nanos).toBeLessThan(1e9);
      expect(timestampFromProto({ seconds: String(p.seconds), nanos: p.nanos! })).toBe(t);
    }
    expect(timestampToProto(1_732_000_000_123_456_789n)).toEqual({ seconds: '1732000000', nanos: 123_456_789 });
    expect(timestampToProto(-1n)).toEqual({ seconds: '-1', nanos: 999_999_999 });
  });
  it('refuse milliseconds and Dates', () => {
    expect(() => timestampToProto(Date.now() as never)).toThrow(TypeError);
    expect(() => timestampToProto(new Date() as never)).toThrow(/bigint of nanoseconds/);
  });
  it('read a missing timestamp as the epoch', () => {
    expect(timestampFromProto(null)).toBe(0n);
  });
});

describe('kinds', () => {
  it('round trip', () => {
    for (const k of ['view', 'active', 'committed'] as const) expect(kindFromProto(kindToProto(k))).toBe(k);
    expect(kindToProto('active')).toBe('ACTIVE');
  });
  it('refuse unknown kinds', () => {
    expect(() => kindToProto('weird' as never)).toThrow(TypeError);
    expect(() => kindToProto('toString' as never)).toThrow(TypeError);
    expect(() => kindFromProto('UNKNOWN')).toThrow(InvalidArgumentError);
  });
});

describe('infos', () => {
  const info: Info = { name: 'ns/1/k', parent: 'ns/0/p', kind: 'committed', labels: { a: '1', 'containerd.io/gc.root': 'x' }, created: 1_700_000_000_000_000_001n, updated: 1_700_000_001_999_999_999n };
  it('round trip', () => {
    expect(infoFromProto(asOutput(infoToProto(info)))).toEqual(info);
  });
  it('name what is wrong', () => {
    expect(() => infoToProto({ ...info, name: '' })).toThrow(/info\.name: expected a non-empty string/);
    expect(() => infoToProto({ ...info, parent: undefined as never })).toThrow(/parent: expected a string/);
    expect(() => infoToProto({ ...info, labels: { a: 1 } as never })).toThrow(/info "ns\/1\/k": labels: labels\["a"\]: expected a string, got number 1/);
    expect(() => infoToProto({ ...info, updated: 5 as never })).toThrow(/updated: expected a bigint/);
    expect(() => infoToProto(undefined as never)).toThrow(/info: expected an object, got undefined/);
  });
});

describe('labels', () => {
  it('copy', () => {
    const l = { a: 'b' };
    expect(labelsFromProto(l)).toEqual(l);
    expect(labelsFromProto(l)).not.toBe(l);
    expect(labelsFromProto(null)).toEqual({});
    expect(labelsToProto(l)).toEqual(l);
    expect(() => labelsToProto([] as never)).toThrow(TypeError);
  });
});

describe('mounts', () => {
  it('round trip, with and without target', () => {
    const m = { type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w'] };
    expect(mountToProto(m)).toEqual({ ...m, target: '' });
    expect(mountFromProto(asOutput(mountToProto(m)))).toEqual(m);
    const t = { ...m, target: '/sub' };
    expect(mountFromProto(asOutput(mountToProto(t)))).toEqual(t);
  });
  it('name what is wrong', () => {
    expect(() => mountsToProto('x' as never)).toThrow('mounts: expected an array, got "x"');
    expect(() => mountsToProto([{ type: 'bind', source: '/s', options: [1] } as never])).toThrow('mounts[0]: options: expected an array of strings');
    expect(() => mountsToProto([{ type: '', source: '/s', options: [] }])).toThrow('mounts[0]: type: expected a non-empty string');
    expect(() => mountsToProto([null as never])).toThrow('mounts[0]: expected a mount object, got null');
  });
});

describe('usage', () => {
  it('round trip as int64 strings', () => {
    expect(usageToProto({ size: 4096, inodes: 3 })).toEqual({ size: '4096', inodes: '3' });
    expect(usageFromProto({ size: '4096', inodes: '3' })).toEqual({ size: 4096, inodes: 3 });
  });
  it('refuses negative, fractional or missing numbers', () => {
    expect(() => usageToProto({ size: -1, inodes: 0 })).toThrow(/usage\.size/);
    expect(() => usageToProto({ size: 1.5, inodes: 0 })).toThrow(/usage\.size/);
    expect(() => usageToProto({ size: 1 } as never)).toThrow(/usage\.inodes: expected a non-negative integer, got undefined/);
    expect(() => usageToProto({ size: 1n, inodes: 0 } as never)).toThrow(/usage\.size/);
  });
});

describe('info updates', () => {
  it('send the name and the labels only', () => {
    expect(infoUpdateToProto({ name: 'n', labels: { a: '1' } })).toEqual({ name: 'n', labels: { a: '1' } });
    expect(() => infoUpdateToProto({ name: 'n', labels: { a: 1 as unknown as string } })).toThrow(/labels\["a"\]: expected a string/);
    expect(() => infoUpdateToProto({ name: 3 as unknown as string, labels: {} })).toThrow(/info\.name: expected a string/);
  });
});
