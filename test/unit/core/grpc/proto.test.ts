import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { protoDir, snapshotsPackageDefinition, snapshotsService } from '../../../../core/grpc/proto.js';

describe('proto', () => {
  it('finds proto/ of the snaphost package', () => {
    const dir = protoDir();
    expect(dir.endsWith('/proto')).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')).name).toBe('snaphost');
  });

  it('defines the 10 Snapshots RPCs, List server-streaming', () => {
    const svc = snapshotsService();
    expect(Object.keys(svc).sort()).toEqual(['Cleanup', 'Commit', 'List', 'Mounts', 'Prepare', 'Remove', 'Stat', 'Update', 'Usage', 'View']);
    expect(svc.List.path).toBe('/containerd.services.snapshots.v1.Snapshots/List');
    expect(svc.List.responseStream).toBe(true);
    expect(svc.Stat.responseStream).toBe(false);
    expect(snapshotsService()).toBe(svc); // loaded once
  });

  it('has CommitSnapshotRequest.parent = 5 (containerd API v1.8)', () => {
    const def = snapshotsPackageDefinition()['containerd.services.snapshots.v1.CommitSnapshotRequest'] as { type: { field: Array<{ name: string; number: number }> } };
    expect(def.type.field.map((f) => [f.name, f.number])).toEqual([
      ['snapshotter', 1],
      ['name', 2],
      ['key', 3],
      ['labels', 4],
      ['parent', 5],
    ]);
  });

  it('ships the six files (five of containerd, the CRI subset), with no gogoproto left', () => {
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const files = walk(protoDir()).filter((f) => f.endsWith('.proto'));
    expect(files.length).toBe(6);
    expect(files.some((f) => f.endsWith(join('runtime', 'v1', 'api.proto')))).toBe(true);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/gogoproto/);
    }
  });
});
