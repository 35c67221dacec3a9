/**
 * Package entry `snaphost/testing`: test a backend's own behaviour through real gRPC.
 * `serveBackend(definitionOrPath, options)` serves it in-process as `snaphost serve` does and
 * returns `{ client, socket, root, close }`; `client` has the contract's methods (and errors
 * arrive as the SDK error classes). `connectSnapshots(socket)` is the same client for any
 * Snapshots socket. Loads the host (config, adapter, gRPC): import it from tests only.
 */
export { serveBackend } from './test-backend/serve-backend.js';
export type { ServeBackendSettings, ServedBackend } from './test-backend/serve-backend.js';
export { connectSnapshots } from './grpc/snapshots-client.js';
export type { ClientCall, ConnectOptions, SnapshotsConnection } from './grpc/snapshots-client.js';
export type { BackendCheck, BackendCheckContext } from './test-backend/run-own-checks.js';
