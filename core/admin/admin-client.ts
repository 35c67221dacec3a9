/**
 * The command side of the admin socket (see admin-protocol.ts): one request, its JSON answer
 * checked against the endpoint's schema. "No daemon" (no socket, nobody listening) is an
 * UnavailableError that says so; an answer that does not fit the schema is an error naming
 * the endpoint, never trusted.
 */
import { request } from 'node:http';
import type { z } from 'zod';
import { describe, UnavailableError } from '../contract/errors.js';
import { reloadResultSchema, type ReloadResult } from '../reload/reload-result.js';
import { daemonReportSchema, type DaemonReport } from '../status/status-report.js';
import { ADMIN_ROUTES, errorSchema, pingSchema, type AdminRoute } from './admin-protocol.js';

/** Largest answer accepted (a status report with many lazy layers stays far below). */
const MAX_ANSWER_BYTES = 64 << 20;

export interface AdminAnswer {
  status: number;
  body: unknown;
}

/** No daemon listens on the admin socket. */
export class NoDaemonError extends UnavailableError {}

export async function adminRequest(socket: string, route: AdminRoute, timeoutMs: number): Promise<AdminAnswer> {
  const { method, path } = ADMIN_ROUTES[route];
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown });
        } catch {
          reject(new Error(`${method} ${path} on ${socket}: the answer is not JSON (HTTP ${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
    });
    const timer = setTimeout(() => req.destroy(new UnavailableError(`${method} ${path} on ${socket}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new NoDaemonError(`no snaphost daemon is running on ${socket} (${err.code}); is the daemon started with the same config (socketDir)?`, { cause: err }));
      } else reject(err instanceof UnavailableError ? err : new UnavailableError(`${method} ${path} on ${socket}: ${describe(err)}`, { cause: err }));
    });
    req.end();
  });
}

/** The daemon's pid, or undefined when no daemon listens on `socket`. */
export async function pingDaemon(socket: string, timeoutMs: number): Promise<number | undefined> {
  try {
    const answer = await adminRequest(socket, 'ping', timeoutMs);
    return check('ping', answer, pingSchema).pid;
  } catch (err) {
    if (err instanceof NoDaemonError) return undefined;
    throw err;
  }
}

export async function requestStatus(socket: string, timeoutMs: number): Promise<DaemonReport> {
  return check('status', await adminRequest(socket, 'status', timeoutMs), daemonReportSchema);
}

/** The reload result; a rejected reload (HTTP 422) is a result with `ok: false`, not a throw. */
export async function requestReload(socket: string, timeoutMs: number): Promise<ReloadResult> {
  const answer = await adminRequest(socket, 'reload', timeoutMs);
  return check('reload', answer.status === 422 ? { ...answer, status: 200 } : answer, reloadResultSchema);
}

function check<S extends z.ZodTypeAny>(route: AdminRoute, answer: AdminAnswer, schema: S): z.output<S> {
  const { method, path } = ADMIN_ROUTES[route];
  if (answer.status !== 200) {
    const err = errorSchema.safeParse(answer.body);
    throw new Error(`${method} ${path}: the daemon answered HTTP ${answer.status}${err.success ? `: ${err.data.error}` : ''}`);
  }
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${method} ${path}: the daemon's answer does not match this snaphost's protocol (${issues}); is the daemon a different version?`);
  }
  return parsed.data as z.output<S>;
}
