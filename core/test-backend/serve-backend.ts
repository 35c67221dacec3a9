/**
 * `serveBackend(definitionOrPath, options)`: a backend served in-process exactly as
 * `snaphost serve` serves it (options validated by its schema as the host does, the root
 * claimed, the instance created and wrapped in the real gRPC adapter on a unix socket), with
 * the one Snapshots client connected to it: a backend author tests the backend's own behaviour
 * through real gRPC without writing a client. `close()` stops it the way the daemon does and
 * removes the temporary directory.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, stopBackend } from '../backend/run-backend.js';
import { resolveConfig } from '../config/resolve-config.js';
import type { BackendDefinition } from '../contract/define-backend.js';
import { connectSnapshots, type SnapshotsConnection } from '../grpc/snapshots-client.js';
import { createLogger, type Logger, type LogLevel } from '../logger.js';
import { unmountBelow } from './unmount-below.js';

export interface ServeBackendSettings {
  /** The backend's root (kept by `close()`); default: `root/` in a new temporary directory. */
  root?: string;
  /** Where a relative module path is resolved from (default: the process's cwd). */
  cwd?: string;
  /** The served backend's log level (default `silent`); ignored when `log` is given. */
  logLevel?: LogLevel;
  log?: Logger;
}

export interface ServedBackend {
  /** The Snapshots client on the socket: the contract's methods, over gRPC. */
  client: SnapshotsConnection;
  socket: string;
  root: string;
  /** The instance name (what containerd would call the snapshotter). */
  name: string;
  /** Stops serving, closes the instance, removes the temporary directory. */
  close(): Promise<void>;
}

/**
 * Serves a backend definition (or a module: a file path, relative to the cwd, or a package
 * name) with `options`. Throws ConfigError when the options do not pass its schema, the
 * host's load or create error otherwise.
 */
export async function serveBackend(definitionOrPath: BackendDefinition | string, options: Record<string, unknown> = {}, settings: ServeBackendSettings = {}): Promise<ServedBackend> {
  const tmp = await realpath(await mkdtemp(join(tmpdir(), 'snaphost-testing-')));
  const socket = join(tmp, 'snapshots.sock');
  const root = settings.root ?? join(tmp, 'root');
  const log = settings.log ?? createLogger({ level: settings.logLevel ?? 'silent', pretty: false });
  const removeTmp = async () => {
    const stuck = await unmountBelow(tmp);
    if (stuck.length > 0) throw new Error(`could not unmount ${stuck.join(', ')}; leaving ${tmp}`);
    await rm(tmp, { recursive: true, force: true });
  };
  let running: Awaited<ReturnType<typeof startBackend>>;
  let shutdownTimeoutMs: number;
  try {
    const config = await resolveConfig({ backends: [{ use: definitionOrPath, root, socket, options }] }, { baseDir: settings.cwd ?? process.cwd() });
    const b = config.backends[0]!;
    if (b.error) throw b.error;
    shutdownTimeoutMs = config.shutdownTimeoutMs;
    running = await startBackend(config, b, { name: b.name, use: b.use, socket, root, optional: false, state: 'starting' }, { log });
  } catch (err) {
    await removeTmp();
    throw err;
  }
  const client = connectSnapshots(socket);
  let closing: Promise<void> | undefined;
  return {
    client,
    socket,
    root,
    name: running.backend.name,
    close() {
      closing ??= (async () => {
        client.close();
        await stopBackend(running, shutdownTimeoutMs);
        if (running.status.error !== undefined) throw new Error(`stopping ${running.backend.name}: ${running.status.error}`);
        await removeTmp();
      })();
      return closing;
    },
  };
}
