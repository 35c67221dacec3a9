/**
 * How a backend module is written: one `defineBackend({...})` call, default-exported.
 *
 * ```ts
 * import { defineBackend, z } from 'snaphost';
 * export default defineBackend({
 *   name: 'my-backend',
 *   apiVersion: 2,
 *   options: z.object({ size: z.string().default('1g') }).strict(),
 *   async create(opts, ctx) { return createMySnapshotter(opts, ctx); },
 * });
 * ```
 * The host validates `options` with the schema BEFORE `create` runs, so `create` receives
 * parsed, typed values; a `create` that does not settle within the host's timeout becomes a
 * `BackendTimeoutError` naming the backend.
 */
import type { z } from 'zod';
import type { Logger } from '../logger.js';
import type { Snapshotter } from './snapshotter.js';

/**
 * The version of this contract. A backend declares the version it was written for.
 * 2: the SDK's surface changed (the overlay building blocks at 'snaphost/overlay', the overlay
 * snapshotter composed with `createOverlaySnapshotter` instead of a class to extend, `call`
 * always given); the `Snapshotter` contract itself did not, so version 1 backends still load.
 */
export const API_VERSION = 2 as const;
/** Every contract version this host can load. */
export const SUPPORTED_API_VERSIONS: readonly number[] = [1, API_VERSION];
import type { RegistryCredentialSource } from './registry-credentials.js';

/** What the host hands to `create`. */
export interface BackendContext {
  /** The instance name from the config (`name`, defaulting to the backend's own name). */
  name: string;
  /** The directory this instance owns (created by the host, mode 0700). Keep all state below it. */
  root: string;
  /** Child logger with `{ backend: name }` bound. */
  log: Logger;
  /** Aborted when the host gives up on `create` (timeout) or shuts down. */
  signal: AbortSignal;
  /**
   * Registry credentials the host learned from image pulls (the CRI image-service proxy), for
   * the backend's own registry reads of those images. Empty when the host runs no CRI proxy.
   */
  registryCredentials: RegistryCredentialSource;
}

/** Optional facts about a backend that the host and its tooling act on. */
export interface BackendCapabilities {
  /**
   * The backend makes remote snapshots (containerd's remote-snapshot protocol: `prepare` with a
   * target ref answers ALREADY_EXISTS once the layer is mounted from elsewhere, e.g. lazily from
   * a registry). It needs the layer annotations containerd adds only when told to:
   * `snaphost containerd-config` then prints `enable_remote_snapshot_annotations = "true"`
   * and the CRI `disable_snapshot_annotations = false` choice for it.
   */
  remoteSnapshots?: boolean;
}

export interface BackendDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> {
  /** The backend's name; the default instance name and socket name. */
  name: string;
  /** The contract version the backend was written for (`API_VERSION`). */
  apiVersion: number;
  /** One line for `snaphost check` and docs. */
  description?: string;
  /** What the backend can do beyond the contract, for tooling (e.g. `snaphost containerd-config`). */
  capabilities?: BackendCapabilities;
  /** zod schema of `options`. Make objects `.strict()` so a typo is an error, not ignored. */
  options: S;
  /** Build the snapshotter from validated options. */
  create(options: z.output<S>, ctx: BackendContext): Promise<Snapshotter> | Snapshotter;
  /**
   * Problems with what the options name outside the config (files the backend reads at run
   * time, such as credentials), one line each, for `snaphost check` (shown as warnings: the
   * backend still serves). Must not log or return a secret.
   */
  check?(options: z.output<S>): Promise<string[]> | string[];
  /**
   * Stop, on purpose, whatever the backend keeps running outside the daemon so that a daemon
   * restart is harmless (for a lazy backend: the process serving its FUSE mounts). Called by
   * `snaphost shutdown` after the daemon has stopped, never by a daemon stop or restart.
   * Resolves to a short description of what was stopped (or that nothing was running).
   */
  shutdown?(options: z.output<S>, ctx: BackendContext): Promise<string> | string;
}

/** Marks objects made by `defineBackend` (works across copies of this package). */
export const BACKEND_MARK = Symbol.for('snaphost.backend');

export type DefinedBackend<S extends z.ZodTypeAny = z.ZodTypeAny> = BackendDefinition<S> & { readonly [BACKEND_MARK]: true };

/** Declare a backend. Typed: `create` receives `z.output` of the options schema. */
export function defineBackend<S extends z.ZodTypeAny>(def: BackendDefinition<S>): DefinedBackend<S> {
  return Object.freeze({ ...def, [BACKEND_MARK]: true as const });
}
