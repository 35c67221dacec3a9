/** The stable `code` of an error (ours, undici's, errno), to match on instead of message text. */
export function errorCode(err: unknown): string | undefined {
  const code: unknown = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** One line for a log field. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

/** The FUSE process itself did not answer (fused-errors.ts `FusedUnreachableError`), as opposed to the registry. */
export function isFusedUnreachable(err: unknown): boolean {
  return (err as { reason?: unknown } | null)?.reason === 'FUSED_UNREACHABLE';
}
