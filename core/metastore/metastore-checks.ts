/** Argument checks of the metadata stores (containerd's rules), throwing InvalidArgumentError. */
import { InvalidArgumentError } from '../contract/errors.js';
import { MAX_LABEL_BYTES } from '../contract/labels.js';
import type { Labels, Usage } from '../contract/snapshotter.js';
import { quoteInput } from '../text/truncate.js';
import { createLabels } from '../contract/label-object.js';

export function checkName(what: 'key' | 'name', value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`snapshot ${what} must be a string, got ${typeof value}`);
  if (value === '') throw new InvalidArgumentError(`snapshot ${what} must not be empty`);
}

export function checkParentArg(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`parent must be a string ('' for none), got ${typeof value}`);
}

/** A frozen copy of `labels` after containerd's checks (strings; key + value ≤ 4096 bytes). */
export function checkLabels(labels: unknown): Readonly<Labels> {
  if (labels === undefined || labels === null) return Object.freeze(createLabels());
  if (typeof labels !== 'object' || Array.isArray(labels)) throw new InvalidArgumentError('labels must be an object of strings');
  const out = createLabels();
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`label ${quoteInput(k)}: value must be a string, got ${typeof v}`);
    if (k === '') throw new InvalidArgumentError('label key must not be empty');
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_BYTES) {
      throw new InvalidArgumentError(`label key and value greater than maximum size (${MAX_LABEL_BYTES} bytes), key: ${k.slice(0, 10)}`);
    }
    out[k] = v;
  }
  return Object.freeze(out);
}

export function checkUsage(usage: unknown): asserts usage is Usage {
  const u = usage as Partial<Usage> | null;
  if (typeof u !== 'object' || u === null || !isCount(u.size) || !isCount(u.inodes)) {
    throw new InvalidArgumentError('usage must be { size, inodes } with non-negative integers');
  }
}

/** A non-negative safe integer. */
export function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
