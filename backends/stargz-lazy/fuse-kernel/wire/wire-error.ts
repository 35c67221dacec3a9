/**
 * The one error the codec throws: a kernel message that does not have the shape its opcode
 * requires, or a value a reply cannot carry. When the request header could be read, `unique`
 * and `opcode` say which request it was, so the session can still answer it (EINVAL/EIO) and go
 * on serving the others.
 */
export class WireError extends Error {
  readonly code = 'EFUSEWIRE';
  override readonly name = 'WireError';
  constructor(
    message: string,
    readonly unique?: bigint,
    readonly opcode?: number,
  ) {
    super(message);
  }
}
