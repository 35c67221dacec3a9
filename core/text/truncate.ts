/**
 * Client input echoed into an error message or a log line, cut to a readable size.
 *
 * Keys, names, parents, filters and labels come from clients and may be long (a key may be
 * 32 KiB, a filter megabytes). Echoed whole, they make a `grpc-message` trailer that HTTP/2
 * cannot carry (~64 KB once percent-encoded: the connection wedges until deadlines) and log
 * lines of megabytes on every call. Every place that puts client input into a message uses
 * `quoteInput` (or `truncateInput`), so what is echoed is at most `ECHO_MAX_CHARS` characters
 * plus a note of the full size; `core/grpc/status.ts` caps the whole message as a last guard.
 */

/** Characters of an echoed value kept before it is cut. */
export const ECHO_MAX_CHARS = 256;

/**
 * `value` if it has at most `max` characters (UTF-16 units), else its first `max` characters
 * (never half a surrogate pair) followed by `…(N bytes)`, N being its full UTF-8 size.
 */
export function truncateInput(value: string, max: number = ECHO_MAX_CHARS): string {
  if (typeof value !== 'string') value = String(value);
  if (value.length <= max) return value;
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // do not split a surrogate pair
  return `${value.slice(0, end)}…(${Buffer.byteLength(value)} bytes)`;
}

/**
 * `truncateInput(value)` as a JSON string literal, for messages like `snapshot "…" does not
 * exist`. A value that is not a string (a backend's bug) is described, never thrown on.
 */
export function quoteInput(value: unknown, max: number = ECHO_MAX_CHARS): string {
  if (typeof value !== 'string') return truncateInput(safeJson(value), max);
  if (value.length <= max) return JSON.stringify(value);
  // Quote only the kept part, so the size note stays readable outside the quotes.
  const cut = truncateInput(value, max);
  const note = cut.lastIndexOf('…(');
  return `${JSON.stringify(cut.slice(0, note))}${cut.slice(note)}`;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes (at a character boundary), with `…(N bytes)`
 * appended in the space kept for it when cut. For whole messages, not single values.
 */
export function capBytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text; // a UTF-16 unit is at most 3 UTF-8 bytes
  const total = Buffer.byteLength(text);
  if (total <= maxBytes) return text;
  const note = `…(${total} bytes)`;
  const budget = Math.max(0, maxBytes - Buffer.byteLength(note));
  const buf = Buffer.from(text, 'utf8');
  let end = budget;
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--; // back to the start of a character
  return buf.subarray(0, end).toString('utf8') + note;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
