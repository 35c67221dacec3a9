/**
 * Where a Bearer challenge may send the registry's credentials. The challenge names the token
 * endpoint (`realm`); whoever can write the challenge chooses where a Basic password or an
 * identity token goes. Over plain HTTP that is anyone on the path (a MITM of the registry or
 * mirror); over HTTPS it is the registry itself.
 *
 * - a realm that is not `http:` or `https:`: refused;
 * - a registry reached over HTTPS with an `http:` realm: refused (credentials or a token would
 *   cross the network in the clear; the registry spoke TLS, its token service must too);
 * - the realm's origin (scheme, host, port) is the registry's own: credentials are sent;
 * - another origin over HTTPS, named by a registry reached over HTTPS: credentials are sent
 *   (the TLS-authenticated registry chose a TLS-protected token service: Docker Hub's
 *   registry-1.docker.io names auth.docker.io, which is how most hosted registries work);
 * - any other origin (the registry is plain HTTP, so the challenge may be forged): the token is
 *   asked for anonymously, the credentials withheld, and the reason given (a registry that
 *   needs them then fails with that reason).
 *
 * So credentials leave only for the registry's own origin, or for an HTTPS origin a registry
 * reached over HTTPS named. containerd's docker resolver sends them to any realm;
 * go-containerregistry refuses an `http:` realm for an HTTPS registry, as here (and also a
 * realm outside the registry's last two domain labels, which breaks token services on other
 * domains and which TLS makes unnecessary).
 */
import { RegistryStatusError } from './registry-errors.js';
import { truncate } from './digest.js';

export interface RealmUse {
  /** The token endpoint. */
  url: URL;
  /** Whether the registry's credentials may be sent there. */
  credentials: boolean;
  /** Why they may not (for the log and for the error when the token server then refuses). */
  withheld?: string;
}

/**
 * How to use the realm of a challenge from the registry at `registryOrigin` (`scheme://host[:port]`,
 * where the 401 came from); `host` names the registry in messages. Throws RegistryStatusError
 * (401) naming the realm, truncated, when it may not be used at all.
 */
export function realmPolicy(realm: string | undefined, registryOrigin: string, host: string): RealmUse {
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new RegistryStatusError(`registry ${host}: Bearer challenge has no valid realm URL (${JSON.stringify(truncate(realm ?? 'none'))})`, 401);
  }
  const shown = truncate(url.origin === 'null' ? url.href : url.origin + url.pathname);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RegistryStatusError(`registry ${host}: Bearer realm ${JSON.stringify(shown)} is not an http(s) URL`, 401);
  }
  const registry = new URL(registryOrigin);
  if (registry.protocol === 'https:' && url.protocol === 'http:') {
    throw new RegistryStatusError(
      `registry ${host}: Bearer realm ${JSON.stringify(shown)} is plain HTTP while the registry is reached over HTTPS; refusing to fetch a token from it`,
      401,
    );
  }
  if (url.origin === registry.origin) return { url, credentials: true };
  if (url.protocol === 'https:' && registry.protocol === 'https:') return { url, credentials: true };
  return {
    url,
    credentials: false,
    withheld: `the realm ${JSON.stringify(shown)} is not the registry's own origin ${registry.origin}, which is plain HTTP (its challenge may be forged)`,
  };
}
