/**
 * containerd's rules for `Update` field masks, for every backend to share
 * (containerd: snapshots/storage/bolt.go UpdateInfo).
 */
import { InvalidArgumentError } from './errors.js';
import type { InfoUpdate, Labels } from './snapshotter.js';
import { quoteInput } from '../text/truncate.js';
import { copyLabels } from './label-object.js';

/**
 * New labels after applying `update` to `current` under `fieldpaths`:
 * - `[]` or `['labels']`: all labels are replaced by `update.labels`;
 * - `['labels.<key>', …]`: each key is set from `update.labels`, or deleted when absent there;
 * - anything else (`name`, `parent`, `kind`, `created_at`, …): InvalidArgumentError.
 */
export function applyLabelUpdate(current: Labels, update: InfoUpdate, fieldpaths: readonly string[]): Labels {
  if (fieldpaths.length === 0) return copyLabels(update.labels);
  let next: Labels = copyLabels(current); // prototype-less: `__proto__` is a key like any other
  for (const path of fieldpaths) {
    if (path === 'labels') {
      next = copyLabels(update.labels);
    } else if (path.startsWith('labels.') && path.length > 'labels.'.length) {
      const key = path.slice('labels.'.length);
      const value = Object.prototype.hasOwnProperty.call(update.labels, key) ? update.labels[key] : undefined;
      if (value === undefined || value === '') delete next[key];
      else next[key] = value;
    } else {
      throw new InvalidArgumentError(`cannot update ${quoteInput(path)} field on snapshot ${quoteInput(update.name)}`);
    }
  }
  return next;
}
