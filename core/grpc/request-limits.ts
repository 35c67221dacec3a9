/**
 * The bounds the snapshots adapter enforces on what a client sends, as the host option
 * `limits` of the config (every field optional, defaults below). One set for every backend:
 * they protect the shared event loop and the clients, whatever the backend.
 *
 * | option                | default  | bounds                                                  |
 * |-----------------------|----------|---------------------------------------------------------|
 * | maxFilterBytes        | 131072   | all filter strings of one List                          |
 * | maxFilterSelectors    | 256      | selectors in all filter strings of one List             |
 * | maxRegexBytes         | 1024     | one `~=` expression as written                          |
 * | maxRegexInstructions  | 256      | one `~=` expression compiled (RE2 program size)         |
 * | maxLabels             | 256      | labels of one snapshot (Prepare/View/Commit, Update merged) |
 * | maxLabelSetBytes      | 262144   | keys + values of one snapshot's labels (max 3 MiB)      |
 *
 * See core/contract/filter-limits.ts and core/contract/label-limits.ts for why each default.
 */
import { z } from 'zod';
import { filterLimitsSchema } from '../contract/filter-limits.js';
import { labelLimitsSchema } from '../contract/label-limits.js';

export const requestLimitsSchema = filterLimitsSchema.extend(labelLimitsSchema.shape).strict();

export type RequestLimits = z.output<typeof requestLimitsSchema>;
export type RequestLimitsInput = z.input<typeof requestLimitsSchema>;

export const DEFAULT_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze(requestLimitsSchema.parse({}));
