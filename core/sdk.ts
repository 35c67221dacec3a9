/**
 * The public SDK of snaphost: everything a backend author (and `plugins.config.ts`) imports,
 * from one entry point (`import { … } from 'snaphost'`). Built-in backends import only from
 * here, so they prove the public contract is enough. Versioned by `API_VERSION`.
 */
export { z } from 'zod';

export { defineBackend, API_VERSION, SUPPORTED_API_VERSIONS } from './backend/define-backend.js';
export type { BackendCapabilities, BackendContext, BackendDefinition, DefinedBackend } from './backend/define-backend.js';

export { defineConfig } from './config/define-config.js';
export type { SnaphostConfig, BackendEntry } from './config/define-config.js';

export type {
  Snapshotter,
  Info,
  InfoUpdate,
  Kind,
  Labels,
  Mount,
  Usage,
  Call,
  SnapshotFilter,
  Timestamp,
  SnapshotterStatus,
  LayerStatus,
  BackendMetric,
} from './snapshots/snapshotter.js';

export {
  SnaphostError,
  NotFoundError,
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  UnavailableError,
  NotImplementedError,
} from './errors.js';
export type { ErrorCode } from './errors.js';

export { nowNs, formatNs } from './snapshots/time.js';
export { applyLabelUpdate } from './snapshots/update.js';
export {
  LABEL_TARGET_REF,
  LABEL_REMOTE,
  LABEL_GC_ROOT,
  LABEL_SNAPSHOT_PREFIX,
  MAX_LABEL_BYTES,
} from './snapshots/labels.js';

export type { Logger, LogLevel } from './logger.js';

// ---- building blocks for backends (the built-ins use these too) ----------------------------
export type { MetaStore, MetaReader, MetaWriter, SnapshotRef, StoredInfo } from './snapshots/metastore.js';
export { MemoryMetaStore } from './snapshots/memory-metastore.js';
export { OverlayLayout, overlayMounts, overlayIndexOff } from './snapshots/overlay-mounts.js';
export type { OverlayMountOptions } from './snapshots/overlay-mounts.js';
export { diskUsage } from './snapshots/disk-usage.js';
export { runCommand, CommandError } from './snapshots/run-command.js';
export type { CommandResult } from './snapshots/run-command.js';
export { OverlaySnapshotter, LABEL_OVERLAY_UPPERDIR } from './snapshots/overlay-snapshotter.js';
export type { OverlaySnapshotterOptions, MissingDir } from './snapshots/overlay-snapshotter.js';
export { overlayMountOptionProblem } from './snapshots/overlay-mount-options.js';
export { MAX_KEY_BYTES } from './snapshots/key-limit.js';
export { LmdbMetaStore } from './snapshots/lmdb-metastore.js';
export type { LmdbMetaStoreOptions } from './snapshots/lmdb-metastore.js';
export { checkOverlaySupport } from './snapshots/overlay-support.js';
export { acquirePidLock, LockHeldError } from './pid-lock.js';
export type { PidLock } from './pid-lock.js';
export { openOverlayRoot } from './snapshots/open-overlay-root.js';
