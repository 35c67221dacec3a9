/**
 * A size option: a byte count (`1048576`) or a number with a binary unit (`512k`, `64m`,
 * `1g`, `2t`; case-insensitive). Parsed by the option schema, so a config with `size: '1x'`
 * is refused by `snaphost check` naming the option, before the backend starts.
 */
import { z } from 'snaphost';

const UNITS = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export const Size = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z
    .string()
    .regex(/^\d+[kmgt]?$/i, 'expected a byte count or a number with a unit k, m, g or t (e.g. "512m")')
    .transform((s) => {
      const [, digits, unit] = /^(\d+)([kmgt]?)$/i.exec(s);
      return Number(digits) * UNITS[unit.toLowerCase()];
    }),
);
