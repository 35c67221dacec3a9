/**
 * The FUSE-serving process's credentials lookup, in order: what the daemon pushed (the
 * repository's own credentials from the host's image pulls, then the pull secrets' entry for
 * the host), then the docker config and its credential helpers. Pushed credentials are keyed by
 * the host a request goes to, so a mirror gets only credentials given for the mirror itself.
 */
import type { Logger } from '../../../core/sdk.js';
import type { CredentialsProvider } from './credentials.js';
import type { PushedCredentials } from './pushed-credentials.js';

export function layeredCredentials(pushed: PushedCredentials, fallback: CredentialsProvider, log: Logger): CredentialsProvider {
  return (host, repository) => {
    const found = pushed.lookup(host, repository);
    if (found === undefined) return fallback(host, repository);
    log.debug({ host, repository, source: found.source }, 'registry credentials pushed by snaphost');
    return found.credentials;
  };
}
