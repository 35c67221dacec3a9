/**
 * Registry credentials from a docker config file, as a CredentialsProvider. For a host:
 * its `credHelpers` helper, else the `credsStore` helper, is asked first; when the helper
 * holds nothing, the `auths` entry is used; with neither, access is anonymous.
 *
 * The file is stat'ed on each lookup (lookups happen only when a registry asks for
 * authorization) and parsed again when its mtime, size or inode changed, so rotated
 * credentials apply without a restart. A missing default file means anonymous; a file named
 * in the options that is missing, a malformed file, or a failing helper is a CredentialsError
 * for the lookup (the process keeps serving other hosts and cached data).
 */
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../../../core/sdk.js';
import type { Credentials, CredentialsProvider } from './credentials.js';
import { helperCredentials } from './credential-helper.js';
import { defaultDockerConfigPath, lookupHost, parseDockerConfig, serverAddress, type DockerConfig } from './docker-config.js';
import { CredentialsError } from './registry-errors.js';

export interface DockerCredentialsOptions {
  /** A file named in the options (must exist); default: `$DOCKER_CONFIG` or `~/.docker`. */
  file?: string | undefined;
  helperTimeoutMs: number;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

export class DockerCredentials {
  readonly file: string;
  private readonly explicit: boolean;
  /** The last parse and the file's identity (inode, size, mtime) then. */
  private loaded: { stamp: string; config: DockerConfig | undefined } | undefined;

  constructor(private readonly opts: DockerCredentialsOptions) {
    this.explicit = opts.file !== undefined;
    this.file = opts.file ?? defaultDockerConfigPath(opts.env);
  }

  /** The provider to give the Authorizer. */
  get provider(): CredentialsProvider {
    return (host) => this.get(host);
  }

  async get(host: string): Promise<Credentials | undefined> {
    const config = await this.config();
    if (!config) return undefined;
    const { helper, stored } = lookupHost(config, host);
    if (helper !== undefined) {
      const source = `${helper.source} in ${config.file}`;
      const fromHelper = await helperCredentials(helper.name, serverAddress(host), { timeoutMs: this.opts.helperTimeoutMs, source, env: this.opts.env });
      if (fromHelper) {
        this.opts.log.debug({ host, helper: helper.name }, 'registry credentials from a credential helper');
        return fromHelper;
      }
    }
    if (stored) this.opts.log.debug({ host, file: config.file }, 'registry credentials from docker config');
    return stored;
  }

  /** Logs which file is used and whether it is usable, once at start; never throws (it warns). */
  async check(): Promise<void> {
    try {
      const config = await this.config();
      this.opts.log.info(
        { file: this.file, found: config !== undefined, registries: config ? config.auths.size + config.credHelpers.size : 0, credsStore: config?.credsStore },
        'registry credentials: docker config',
      );
    } catch (err) {
      this.opts.log.warn({ file: this.file, reason: (err as Error).message }, 'registry credentials: docker config unusable; lookups will fail until it is fixed');
    }
  }

  /** The parsed file, re-read when it changed; undefined when there is none (anonymous). */
  private async config(): Promise<DockerConfig | undefined> {
    let stamp: string;
    try {
      const st = await stat(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new CredentialsError(`docker config ${this.file}: ${(err as Error).message}`, { cause: err });
      }
      if (this.explicit) throw new CredentialsError(`registry.dockerConfig: ${this.file} does not exist`);
      this.loaded = { stamp: 'missing', config: undefined };
      return undefined;
    }
    if (this.loaded?.stamp === stamp) return this.loaded.config;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      throw new CredentialsError(`docker config ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    const config = parseDockerConfig(text, this.file);
    if (this.loaded !== undefined) this.opts.log.info({ file: this.file }, 'docker config changed; using the new credentials');
    this.loaded = { stamp, config };
    return config;
  }
}
