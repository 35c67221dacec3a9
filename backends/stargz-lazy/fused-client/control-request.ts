/**
 * One request of the control protocol over the unix socket (a fresh connection each time: the
 * traffic is a few requests per layer, and nothing is left to clean up). Every request has a
 * deadline. A process that cannot be reached is FusedUnreachableError; an error answer becomes
 * the SDK error class of its code (fused-errors.ts); the caller's abort rejects with its reason.
 */
import { request } from 'node:http';
import { fromWireError, FusedUnreachableError } from '../protocol/fused-errors.js';

/** Largest answer accepted (a listing of many mounts). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export interface ControlRequestOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export async function controlRequest(
  socket: string,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  o: ControlRequestOptions,
): Promise<unknown> {
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  let status: number;
  let answer: Buffer;
  try {
    ({ status, answer } = await exchange(socket, method, path, data, signal));
  } catch (err) {
    if (o.signal?.aborted) throw o.signal.reason;
    if (deadline.aborted) {
      throw new FusedUnreachableError(`FUSE process at ${socket}: no answer to ${method} ${path} within ${o.timeoutMs} ms`);
    }
    throw new FusedUnreachableError(`FUSE process at ${socket}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(answer.toString('utf8'));
  } catch {
    throw new FusedUnreachableError(`FUSE process at ${socket}: ${method} ${path} answered HTTP ${status} without JSON`);
  }
  if (status === 200) return json;
  const error = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code !== 'string' || typeof error.message !== 'string') {
    throw new FusedUnreachableError(`FUSE process at ${socket}: ${method} ${path} answered HTTP ${status} without an error`);
  }
  throw fromWireError(error.code, error.message);
}

function exchange(
  socket: string,
  method: string,
  path: string,
  data: Buffer | undefined,
  signal: AbortSignal,
): Promise<{ status: number; answer: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (data) Object.assign(headers, { 'content-type': 'application/json', 'content-length': data.length });
    const req = request({ socketPath: socket, method, path, headers, agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, answer: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}
