/** Options of the `memory` backend (validated by the host before `create` runs). */
import { z } from '../../core/sdk.js';

/**
 * A tmpfs `size=` value: bytes with an optional k/m/g/t suffix (`512m`, `2g`, `1073741824`),
 * or a percentage of physical RAM from 1% to 100% (`50%`). Zero (unlimited) is refused: an
 * unbounded tmpfs can take all memory of the machine.
 */
export const tmpfsSize = z
  .string()
  .trim()
  .toLowerCase()
  .refine((s) => /^[1-9][0-9]*[kmgt]?$/.test(s) || /^([1-9][0-9]?|100)%$/.test(s), {
    message: "expected a tmpfs size such as '512m', '2g', '1073741824' or '50%' (1-100%); 0 (unlimited) is not allowed",
  });

export const memoryOptions = z
  .object({
    /** Size limit of the tmpfs that holds every snapshot of this instance. Default '50%' (tmpfs's own default). */
    size: tmpfsSize.default('50%'),
  })
  .strict();

export type MemoryOptions = z.output<typeof memoryOptions>;
