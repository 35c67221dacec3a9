/**
 * Bounds on the filters of one `List` request, so that parsing and matching a filter costs
 * a bounded amount of work whatever a client sends. containerd's filter parser has no such
 * bounds; the defaults are far above anything containerd, ctr, the CRI plugin or nerdctl send
 * (they send no filter, or a few short selectors such as `parent==<key>` or
 * `labels."containerd.io/gc.root"`). A filter over a bound is refused with
 * InvalidArgumentError naming the bound.
 *
 * Cost of a `~=` selector: `~=` is matched by RE2 (re2js), linear in the subject: at most
 * (program instructions) x (subject length) steps. The subject is a label value (key + value
 * at most 4096 bytes, `MAX_LABEL_BYTES`) or a name or parent (at most 32 KiB, `MAX_KEY_BYTES`),
 * so one selector on one snapshot costs at most maxRegexInstructions x 32768 steps (RE2's
 * DFA usually does far fewer), and the adapter yields to the event loop between selectors
 * (core/grpc/snapshots-service.ts): the longest the loop is held by a List is one match, not
 * the whole List. Measured at the default bounds with an expression built to defeat the DFA:
 * about 100-170 ms per match on a 4 KiB or 32 KiB subject (a backtracking RegExp took 40 s
 * for `^(a+)+$` on a few KiB).
 */
import { z } from 'zod';

export const filterLimitsSchema = z
  .object({
    /** Bytes (UTF-8) of all filter strings of one List request together. Default 128 KiB (four 32 KiB keys). */
    maxFilterBytes: z.number().int().positive().default(128 * 1024),
    /** Selectors (`a==b`, `labels.x`, …) in all filter strings of one request together. Default 256. */
    maxFilterSelectors: z.number().int().positive().default(256),
    /** Bytes of one `~=` regular expression as written. Default 1024. */
    maxRegexBytes: z.number().int().positive().default(1024),
    /**
     * Instructions of one compiled `~=` expression (RE2's program size: `a{200}` is 6 bytes
     * but 200 instructions). Default 256: room for a digest pattern like
     * `^sha256:[0-9a-f]{64}$` (about 75) several times over, while one match of the worst
     * expression of that size measured about 170 ms on a 4 KiB value (loaded 2-core machine).
     */
    maxRegexInstructions: z.number().int().positive().default(256),
  })
  .strict();

export type FilterLimits = z.output<typeof filterLimitsSchema>;

export const DEFAULT_FILTER_LIMITS: Readonly<FilterLimits> = Object.freeze(filterLimitsSchema.parse({}));
