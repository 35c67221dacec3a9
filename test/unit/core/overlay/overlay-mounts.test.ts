import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OverlayLayout, overlayIndexOff, overlayMounts } from '../../../../core/overlay/overlay-mounts.js';

const layout = new OverlayLayout('/r');

describe('OverlayLayout', () => {
  it('puts snapshots at <dir>/snapshots/<id>/{fs,work}', () => {
    expect(layout.snapshotsDir).toBe('/r/snapshots');
    expect(layout.snapshotDir(7)).toBe('/r/snapshots/7');
    expect(layout.upperPath(7)).toBe('/r/snapshots/7/fs');
    expect(layout.workPath(7)).toBe('/r/snapshots/7/work');
  });

  it('refuses a relative dir and ids that are not positive integers', () => {
    expect(() => new OverlayLayout('rel/dir')).toThrow(/absolute/);
    for (const id of [0, -1, 1.5, Number.NaN]) expect(() => layout.upperPath(id)).toThrow(/invalid snapshot id/);
  });
});

describe('overlayMounts (containerd overlay.go mounts())', () => {
  it('active without parent: rw rbind of its own fs', () => {
    expect(overlayMounts({ id: 1, kind: 'active', parentIds: [] }, layout, { indexOff: true })).toEqual([
      { type: 'bind', source: '/r/snapshots/1/fs', options: ['rw', 'rbind'] },
    ]);
  });

  it('view without parent: ro rbind of its own fs', () => {
    expect(overlayMounts({ id: 2, kind: 'view', parentIds: [] }, layout)).toEqual([
      { type: 'bind', source: '/r/snapshots/2/fs', options: ['ro', 'rbind'] },
    ]);
  });

  it("view with one parent: ro rbind of the parent's fs", () => {
    expect(overlayMounts({ id: 3, kind: 'view', parentIds: [1] }, layout, { indexOff: true })).toEqual([
      { type: 'bind', source: '/r/snapshots/1/fs', options: ['ro', 'rbind'] },
    ]);
  });

  it('active with parents: overlay with index=off, workdir, upperdir, lowerdir nearest first', () => {
    expect(overlayMounts({ id: 9, kind: 'active', parentIds: [5, 4, 1] }, layout, { indexOff: true })).toEqual([
      {
        type: 'overlay',
        source: 'overlay',
        options: ['index=off', 'workdir=/r/snapshots/9/work', 'upperdir=/r/snapshots/9/fs', 'lowerdir=/r/snapshots/5/fs:/r/snapshots/4/fs:/r/snapshots/1/fs'],
      },
    ]);
  });

  it('view with several parents: read-only overlay of lowerdirs only; no index=off when unsupported; userxattr', () => {
    expect(overlayMounts({ id: 9, kind: 'view', parentIds: [5, 4] }, layout, { indexOff: false, userxattr: true })).toEqual([
      { type: 'overlay', source: 'overlay', options: ['userxattr', 'lowerdir=/r/snapshots/5/fs:/r/snapshots/4/fs'] },
    ]);
  });

  it('uses index=off by default exactly when the kernel has the overlay index parameter', () => {
    const has = existsSync('/sys/module/overlay/parameters/index');
    expect(overlayIndexOff()).toBe(has);
    const [m] = overlayMounts({ id: 3, kind: 'active', parentIds: [2] }, layout);
    expect(m!.options.includes('index=off')).toBe(has);
  });

  it('keeps 128 stacked layers under a realistic root well inside one page', () => {
    const deep = new OverlayLayout('/var/lib/snaphost/memory/tmpfs');
    const parentIds = Array.from({ length: 128 }, (_, i) => 1000 - i);
    const [m] = overlayMounts({ id: 1001, kind: 'active', parentIds }, deep, { indexOff: true });
    // containerd's mount.All compacts to paths relative to the common parent: "<id>/fs" each.
    const compacted = parentIds.map((id) => `${id}/fs`).join(':');
    expect(compacted.length).toBeLessThan(4096);
    expect(m!.options.at(-1)!.split(':')).toHaveLength(128);
  });
});
