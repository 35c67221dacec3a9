/** Calls a backend instance's optional `close()`, bounded by a timeout (BackendTimeoutError). */
import { BackendTimeoutError } from '../contract/errors.js';
import type { Snapshotter } from '../contract/snapshotter.js';
import { inBackend } from './backend-scope.js';

export async function closeInstance(instance: Snapshotter, backend: string, timeoutMs: number): Promise<void> {
  if (typeof instance.close !== 'function') return;
  const closing = inBackend(backend, () => Promise.resolve().then(() => instance.close!()));
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BackendTimeoutError(backend, 'close', timeoutMs)), timeoutMs);
  });
  try {
    await Promise.race([closing, expired]);
  } finally {
    clearTimeout(timer);
  }
}
