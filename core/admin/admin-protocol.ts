/**
 * The admin socket: `<socketDir>/snaphost-admin.sock` (see `adminSocketFor`), mode 0600 (root only), HTTP/1.1 with
 * JSON bodies. The running daemon answers; `snaphost reload|status|shutdown` ask.
 *
 * | request            | answer                                                        |
 * | ------------------ | ------------------------------------------------------------- |
 * | `GET /v1/ping`     | 200 `{ pid }`                                                  |
 * | `GET /v1/status`   | 200 `DaemonReport` (core/status/status-report.ts)               |
 * | `POST /v1/reload`  | 200 `ReloadResult` when applied, 422 when rejected or a backend failed |
 * | anything else      | 404 / 405 `{ error }`                                          |
 *
 * Requests carry no body: one is answered 400, and the connection is cut past 1 KiB. Both sides check what they
 * receive: the client validates every answer with the schemas below.
 */
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { ResolvedConfig } from '../config/resolved-config.js';

export const ADMIN_SOCKET_NAME = 'snaphost-admin.sock';
export const ADMIN_SOCKET_MODE = 0o600;
export const MAX_REQUEST_BODY_BYTES = 1024;

export const ADMIN_ROUTES = {
  ping: { method: 'GET', path: '/v1/ping' },
  status: { method: 'GET', path: '/v1/status' },
  reload: { method: 'POST', path: '/v1/reload' },
} as const;

export type AdminRoute = keyof typeof ADMIN_ROUTES;

export const pingSchema = z.object({ pid: z.number().int().positive() }).strict();
export const errorSchema = z.object({ error: z.string() }).strict();

/**
 * Where a daemon serving `config` listens: in its `socketDir`; for a daemon without a config
 * file (`serve --backend … --socket PATH`), next to that backend's socket, so daemons started
 * that way on different socket directories do not meet.
 */
export function adminSocketFor(config: Pick<ResolvedConfig, 'file' | 'socketDir' | 'backends'>): string {
  const only = config.backends[0];
  return join(config.file === undefined && only ? dirname(only.socket) : config.socketDir, ADMIN_SOCKET_NAME);
}
