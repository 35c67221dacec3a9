/**
 * containerd's rules for `Update` field masks, for every backend to share
 * (containerd: snapshots/storage/bolt.go UpdateInfo).
 */
import { InvalidArgumentError } from '../errors.js';
import type { InfoUpdate, Labels } from './snapshotter.js';

/**
 * New labels after applying `update` to `current` under `fieldpaths`:
 * - `[]` or `['labels']`: all labels are replaced by `update.labels`;
 * - `['labels.<key>', …]`: each key is set from `update.labels`, or deleted when absent there;
 * - anything else (`name`, `parent`, `kind`, `created_at`, …): InvalidArgumentError.
 */
export function applyLabelUpdate(current: Labels, update: InfoUpdate, fieldpaths: readonly string[]): Labels {
  if (fieldpaths.length === 0) return { ...update.labels };
  let next: Labels = { ...current };
  for (const path of fieldpaths) {
    if (path === 'labels') {
      next = { ...update.labels };
    } else if (path.startsWith('labels.') && path.length > 'labels.'.length) {
      const key = path.slice('labels.'.length);
      const value = Object.prototype.hasOwnProperty.call(update.labels, key) ? update.labels[key] : undefined;
      if (value === undefined || value === '') delete next[key];
      else next[key] = value;
    } else {
      throw new InvalidArgumentError(`cannot update ${JSON.stringify(path)} field on snapshot ${JSON.stringify(update.name)}`);
    }
  }
  return next;
}
