/**
 * Package entry `snaphost`: the backend contract, what every backend module (and
 * `plugins.config.ts`) imports: `defineBackend`, the `Snapshotter` types, the error classes and
 * the value helpers. It loads only the contract (no store, no overlay, no gRPC). The building
 * blocks of overlay-based backends are the second entry, `snaphost/overlay` (`sdk-overlay.ts`).
 * Versioned by `API_VERSION`.
 */
export { z } from 'zod';

export { defineBackend, API_VERSION, SUPPORTED_API_VERSIONS } from './contract/define-backend.js';
export type { BackendContext, BackendDefinition, DefinedBackend } from './contract/define-backend.js';
export { NO_REGISTRY_CREDENTIALS } from './contract/registry-credentials.js';
export type { RegistryAuth, RepositoryCredentials, RegistryCredentialsChange, RegistryCredentialSource } from './contract/registry-credentials.js';

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
} from './contract/snapshotter.js';

export {
  SnaphostError,
  NotFoundError,
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  UnavailableError,
  NotImplementedError,
} from './contract/errors.js';
export type { ErrorCode } from './contract/errors.js';

export { nowNs, formatNs } from './contract/time.js';
export { applyLabelUpdate } from './contract/update.js';
export {
  LABEL_TARGET_REF,
  LABEL_REMOTE,
  LABEL_GC_ROOT,
  LABEL_SNAPSHOT_PREFIX,
  MAX_LABEL_BYTES,
} from './contract/labels.js';
export { MAX_KEY_BYTES } from './contract/key-limit.js';

export type { Logger, LogLevel } from './logger.js';
