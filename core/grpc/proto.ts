/**
 * Loads containerd's Snapshots service from `proto/` once per process. The directory is found
 * by walking up from this file to the `snaphost` package root, so it works from the sources
 * (`core/grpc/proto.ts`) and from the build (`dist/core/grpc/proto.js`) alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { SnapshotsDefinition } from './generated/containerd/services/snapshots/v1/Snapshots.js';

export const SNAPSHOTS_SERVICE = 'containerd.services.snapshots.v1.Snapshots';
const SNAPSHOTS_PROTO = 'containerd/services/snapshots/v1/snapshots.proto';

/** Options shared with `npm run gen:proto-types`: change both together. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: protoLoader.PackageDefinition | undefined;

/** The `proto/` directory of the snaphost package this file belongs to. */
export function protoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && isSnaphostPackage(pkg) && existsSync(join(dir, 'proto', SNAPSHOTS_PROTO))) {
      return join(dir, 'proto');
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find proto/${SNAPSHOTS_PROTO} above ${fileURLToPath(import.meta.url)} (is the snaphost package installed completely?)`);
    }
    dir = parent;
  }
}

function isSnaphostPackage(file: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'snaphost';
  } catch {
    return false;
  }
}

/** The package definition of snapshots.proto and its imports. */
export function snapshotsPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(SNAPSHOTS_PROTO, { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
  return cached;
}

/** `containerd.services.snapshots.v1.Snapshots`, ready for `grpc.Server.addService`. */
export function snapshotsService(): SnapshotsDefinition {
  const service = snapshotsPackageDefinition()[SNAPSHOTS_SERVICE];
  if (!service || 'format' in service) throw new Error(`${SNAPSHOTS_PROTO} does not define service ${SNAPSHOTS_SERVICE}`);
  return service as unknown as SnapshotsDefinition;
}
