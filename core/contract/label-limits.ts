/**
 * Bounds on the labels of one snapshot. containerd's `labels.Validate` bounds each label (key
 * + value at most 4096 bytes, `MAX_LABEL_BYTES`) and answers InvalidArgument; it has no bound
 * on a snapshot's label count or total size, so repeated `Update labels.<k>` could grow one
 * snapshot to megabytes, after which its Stat and every List of its namespace answer a
 * message larger than clients accept (RESOURCE_EXHAUSTED for every client).
 *
 * Defaults: real label sets are small. containerd, the CRI plugin and the remote snapshotter
 * labels (`containerd.io/snapshot.ref`, `containerd.io/gc.*`, `containerd.io/snapshot/cri.*`
 * with the image's layer list cut to 4096 bytes by containerd, the stargz labels) come to
 * tens of labels and a few KiB; 256 labels and 256 KiB leave room for 64 labels of the maximal
 * 4096 bytes. `maxLabelSetBytes` is capped at 3 MiB so one snapshot always fits in a message
 * a client accepts (4 MiB by default in gRPC).
 *
 * A set over a bound is refused with InvalidArgumentError, the code containerd uses for label
 * validation: it is a property of the request's result (retrying never helps), not a
 * transient shortage of a server resource (RESOURCE_EXHAUSTED, which also is what clients
 * already see for an over-size message, would suggest a retry or a quota).
 */
import { z } from 'zod';
import { InvalidArgumentError } from './errors.js';
import { quoteInput } from '../text/truncate.js';
import { MAX_LABEL_BYTES } from './labels.js';

export const labelLimitsSchema = z
  .object({
    /** Labels one snapshot may have. Default 256. */
    maxLabels: z.number().int().positive().default(256),
    /** Bytes (UTF-8) of all keys and values of one snapshot's labels together. Default 256 KiB, at most 3 MiB. */
    maxLabelSetBytes: z
      .number()
      .int()
      .positive()
      .max(3 * 1024 * 1024, 'must be at most 3 MiB (3145728) so a snapshot fits in one gRPC message')
      .default(256 * 1024),
  })
  .strict();

export type LabelLimits = z.output<typeof labelLimitsSchema>;

export const DEFAULT_LABEL_LIMITS: Readonly<LabelLimits> = Object.freeze(labelLimitsSchema.parse({}));

/** UTF-8 bytes of a label (key + value), counting only when it could matter. */
function labelBytes(k: string, v: string): number {
  return (k.length + v.length) * 3 <= MAX_LABEL_BYTES ? k.length + v.length : Buffer.byteLength(k) + Buffer.byteLength(v);
}

/**
 * Throw InvalidArgumentError when one label of `labels` is over containerd's per-label bound
 * (naming the key, truncated) or the whole set is over `limits` (naming the snapshot, the
 * size and the bound). `subject` names the snapshot for the message (`snapshot "k"`).
 * Values that are not strings are left to the caller's type checks.
 */
export function checkLabelLimits(labels: Readonly<Record<string, unknown>> | null | undefined, limits: LabelLimits, subject: string): void {
  if (!labels) return;
  let count = 0;
  let total = 0;
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') continue;
    const size = labelBytes(k, v);
    if (size > MAX_LABEL_BYTES) {
      const exact = Buffer.byteLength(k) + Buffer.byteLength(v);
      throw new InvalidArgumentError(`label ${quoteInput(k, 64)}: key and value are ${exact} bytes, more than the maximum of ${MAX_LABEL_BYTES} (containerd's labels.Validate)`);
    }
    count++;
    total += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (count > limits.maxLabels) {
    throw new InvalidArgumentError(`${subject} would have ${count} labels, more than the maximum of ${limits.maxLabels} (maxLabels)`);
  }
  if (total > limits.maxLabelSetBytes) {
    throw new InvalidArgumentError(`${subject} would have ${total} bytes of labels, more than the maximum of ${limits.maxLabelSetBytes} (maxLabelSetBytes)`);
  }
}
