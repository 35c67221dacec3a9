/**
 * Which admin socket `snaphost reload|status|shutdown` asks: `--admin-socket PATH`, else the
 * one of the config file's `socketDir` (see `adminSocketFor`). Only `socketDir` is read, not
 * the whole config validated: `snaphost reload` must reach the daemon to report what is
 * wrong with a new config, so problems elsewhere in the file are the daemon's to report.
 */
import { dirname, join, resolve } from 'node:path';
import { hostSchema } from '../config/config-schema.js';
import { DEFAULT_SOCKET_DIR } from '../config/define-config.js';
import { loadConfigFile } from '../config/load-config-file.js';
import { ConfigError } from '../contract/errors.js';
import { ADMIN_SOCKET_NAME } from './admin-protocol.js';

export async function findAdminSocket(o: { adminSocket?: string; config?: string; cwd: string }): Promise<string> {
  if (o.adminSocket !== undefined) return resolve(o.cwd, o.adminSocket);
  const { file, config } = await loadConfigFile(o.config, o.cwd);
  const raw = typeof config === 'object' && config !== null ? (config as Record<string, unknown>).socketDir : undefined;
  const parsed = hostSchema.shape.socketDir.safeParse(raw);
  if (!parsed.success) throw new ConfigError([{ path: 'socketDir', message: parsed.error.issues[0]?.message ?? 'invalid' }], file);
  return join(resolve(dirname(file), parsed.data ?? DEFAULT_SOCKET_DIR), ADMIN_SOCKET_NAME);
}
