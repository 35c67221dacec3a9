/** `--config FILE | --admin-socket PATH`: which daemon `reload` and `status` ask. */
import { findAdminSocket } from '../admin/find-admin-socket.js';
import type { CliIo } from './command.js';
import { CONFIG_OPTION } from './config-flag.js';
import { UsageError } from './parse-command-line.js';

export const ADMIN_SOCKET_OPTIONS = { ...CONFIG_OPTION, 'admin-socket': { type: 'string' } } as const;

/** The admin socket given, or the one of the config's socketDir. */
export function adminSocketOfFlags(values: { config?: string; 'admin-socket'?: string }, io: CliIo): Promise<string> {
  if (values.config !== undefined && values['admin-socket'] !== undefined) throw new UsageError('--config and --admin-socket cannot be combined');
  return findAdminSocket({ adminSocket: values['admin-socket'], config: values.config, cwd: io.cwd });
}
