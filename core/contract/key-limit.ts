/**
 * The longest snapshot key, name or parent snaphost accepts.
 *
 * containerd itself has no explicit limit, but every key it sends has passed through its
 * metadata database (bbolt), where a key is a bucket name and bbolt refuses names over
 * `MaxKeySize` = 32768 bytes; containerd's own overlay snapshotter stores keys the same way.
 * So 32 KiB (UTF-8 bytes) is what a real client can ever send, and anything longer is refused
 * up front with a clear InvalidArgumentError instead of failing deep inside a store.
 */
import { InvalidArgumentError } from './errors.js';

/** bbolt's MaxKeySize: the longest key containerd's metadata can hold. */
export const MAX_KEY_BYTES = 32768;

/**
 * Throw InvalidArgumentError when `value` (a key, name or parent, named by `what`) is longer
 * than MAX_KEY_BYTES in UTF-8. Non-strings and '' are left to the caller's own checks.
 */
export function checkKeyLength(what: string, value: unknown): void {
  if (typeof value !== 'string') return;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no byte count.
  if (value.length * 3 <= MAX_KEY_BYTES) return;
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(`snapshot ${what} is ${bytes} bytes long, more than the maximum of ${MAX_KEY_BYTES} bytes (starts with ${JSON.stringify(value.slice(0, 32))})`);
  }
}
