import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, protoDir, snapshotsPackageDefinition, snapshotsService } from '../../../../core/grpc/proto.js';

const fieldsOf = (def: protoLoader.PackageDefinition, message: string) =>
  (def[message] as { type: { field: Array<{ name: string; number: number }> } }).type.field.map((f) => [f.name, f.number]);

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

  it('ships the eleven files (containerd, google.protobuf, google.rpc, the CRI and introspection subsets), with no gogoproto left', () => {
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const files = walk(protoDir())
      .filter((f) => f.endsWith('.proto'))
      .map((f) => f.slice(protoDir().length + 1))
      .sort();
    expect(files).toEqual([
      'containerd/services/introspection/v1/introspection.proto',
      'containerd/services/snapshots/v1/snapshots.proto',
      'containerd/services/version/v1/version.proto',
      'containerd/types/mount.proto',
      'containerd/types/platform.proto',
      'google/protobuf/any.proto',
      'google/protobuf/empty.proto',
      'google/protobuf/field_mask.proto',
      'google/protobuf/timestamp.proto',
      'google/rpc/status.proto',
      'k8s.io/cri-api/pkg/apis/runtime/v1/api.proto',
    ]);
    for (const f of files.map((x) => join(protoDir(), x))) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/gogoproto/);
    }
  });

  it("has containerd's introspection and version services with containerd's field numbers (API v1.8)", () => {
    const def = protoLoader.loadSync(['containerd/services/introspection/v1/introspection.proto', 'containerd/services/version/v1/version.proto'], { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
    const svc = def['containerd.services.introspection.v1.Introspection'] as Record<string, { path: string }>;
    expect(Object.keys(svc).sort()).toEqual(['Plugins', 'Server']);
    expect(svc['Plugins']!.path).toBe('/containerd.services.introspection.v1.Introspection/Plugins');
    expect((def['containerd.services.version.v1.Version'] as Record<string, { path: string }>)['Version']!.path).toBe('/containerd.services.version.v1.Version/Version');
    expect(fieldsOf(def, 'containerd.services.introspection.v1.Plugin')).toEqual([
      ['type', 1],
      ['id', 2],
      ['requires', 3],
      ['platforms', 4],
      ['exports', 5],
      ['capabilities', 6],
      ['initErr', 7],
    ]);
    expect(fieldsOf(def, 'containerd.services.introspection.v1.PluginsRequest')).toEqual([['filters', 1]]);
    expect(fieldsOf(def, 'containerd.services.introspection.v1.ServerResponse')).toEqual([
      ['uuid', 1],
      ['pid', 2],
      ['pidns', 3],
      ['deprecations', 4],
    ]);
    expect(fieldsOf(def, 'containerd.services.version.v1.VersionResponse')).toEqual([
      ['version', 1],
      ['revision', 2],
    ]);
    expect(fieldsOf(def, 'google.rpc.Status')).toEqual([
      ['code', 1],
      ['message', 2],
      ['details', 3],
    ]);
  });
});
