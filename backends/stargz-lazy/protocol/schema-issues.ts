/** One line per issue of a refused value, `path: message` (`root` for the value itself): the control requests and fused.json. */
import type { z } from '../../../core/sdk.js';

export function issueLines(error: z.ZodError, root: string): string[] {
  return error.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`);
}
