/**
 * TOC `modtime` (RFC 3339, e.g. `2024-05-17T10:30:43Z`, fractions and offsets allowed) to
 * nanoseconds since the Unix epoch. Empty or absent means zero, as in the spec.
 */
import { MalformedEstargzError } from './errors.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export function parseModtime(value: string | undefined, entryName: string): bigint {
  if (value === undefined || value === '') return 0n;
  const m = RFC3339.exec(value);
  const bad = () => new MalformedEstargzError(`entry ${JSON.stringify(entryName)}: modtime ${JSON.stringify(value)} is not RFC 3339`);
  if (!m) throw bad();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) throw bad();
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  date.setUTCHours(hour, minute, Math.min(second, 59));
  const ms = date.getTime();
  if (Number.isNaN(ms) || date.getUTCDate() !== day) throw bad();
  let seconds = BigInt(ms / 1000);
  if (m[9] !== undefined) {
    const offset = (Number(m[10]) * 60 + Number(m[11])) * 60;
    seconds += BigInt(m[9] === '+' ? -offset : offset);
  }
  const nanos = BigInt((m[7] ?? '').padEnd(9, '0') || '0');
  return seconds * 1_000_000_000n + nanos;
}
