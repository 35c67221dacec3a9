/**
 * What a reload did, as the daemon logs it and the admin socket answers it (`snaphost reload`
 * prints it). The zod schema is what the client checks the daemon's answer against.
 */
import { z } from 'zod';

export const reloadResultSchema = z
  .object({
    /** True when the new config was valid and every backend it asks for is serving. */
    ok: z.boolean(),
    /** The config file that was read. */
    config: z.string().optional(),
    /** Why the new config was rejected as a whole (nothing was changed then). */
    rejected: z.string().optional(),
    added: z.array(z.string()),
    removed: z.array(z.string()),
    /** Restarted because their entry, options or module changed (with the fields). */
    restarted: z.array(z.object({ name: z.string(), fields: z.array(z.string()) })),
    /** Changed in a way applied without a restart (log level). */
    updated: z.array(z.object({ name: z.string(), fields: z.array(z.string()) })),
    unchanged: z.array(z.string()),
    /** Daemon-level fields that changed: applied now (`live`) or at the next start (`restart`). */
    settings: z.array(z.object({ field: z.string(), before: z.unknown(), after: z.unknown(), apply: z.enum(['live', 'restart']) })),
    /** Backends of the new config that failed to start (and why). */
    failed: z.array(z.object({ name: z.string(), error: z.string() })),
  })
  .strict();

export type ReloadResult = z.infer<typeof reloadResultSchema>;

export function rejectedReload(reason: string, config?: string): ReloadResult {
  return { ok: false, config, rejected: reason, added: [], removed: [], restarted: [], updated: [], unchanged: [], settings: [], failed: [] };
}

/** Human-readable lines for `snaphost reload`. */
export function formatReloadResult(r: ReloadResult): string[] {
  if (r.rejected !== undefined) return [`reload rejected; the running config is unchanged:`, ...r.rejected.split('\n').map((l) => `  ${l}`)];
  const lines = [r.ok ? `reloaded${r.config ? ` ${r.config}` : ''}` : `reloaded${r.config ? ` ${r.config}` : ''} with failures`];
  const list = (label: string, names: string[]) => names.length > 0 && lines.push(`  ${label.padEnd(10)} ${names.join(', ')}`);
  list('added', r.added);
  list('removed', r.removed);
  list('restarted', r.restarted.map((c) => `${c.name} (${c.fields.join(', ')})`));
  list('updated', r.updated.map((c) => `${c.name} (${c.fields.join(', ')})`));
  list('unchanged', r.unchanged);
  for (const s of r.settings) {
    lines.push(`  setting    ${s.field}: ${JSON.stringify(s.before)} -> ${JSON.stringify(s.after)} (${s.apply === 'live' ? 'applied' : 'needs a daemon restart'})`);
  }
  for (const f of r.failed) lines.push(`  FAILED     ${f.name}: ${f.error}`);
  return lines;
}
