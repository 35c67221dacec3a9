/** Registry credentials as the docker config and credential helpers give them, and where they come from. */

/** A user name and password (or access token used as one): Basic auth, or Basic at the token endpoint. */
export interface PasswordCredentials {
  username: string;
  password: string;
}

/** An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user): POSTed to the token endpoint. */
export interface IdentityTokenCredentials {
  identityToken: string;
  username?: string;
}

/** A bearer token sent to the registry as is (`registrytoken`). */
export interface RegistryTokenCredentials {
  registryToken: string;
}

export type Credentials = PasswordCredentials | IdentityTokenCredentials | RegistryTokenCredentials;

/**
 * Credentials for a registry host (`docker.io`, `127.0.0.1:5000`), or undefined for anonymous;
 * `repository` (`library/busybox`) when the request is for one, for providers that hold
 * credentials per repository (pushed-credentials.ts).
 */
export type CredentialsProvider = (host: string, repository?: string) => Promise<Credentials | undefined> | Credentials | undefined;

/** Credentials from a fixed map keyed by registry host. */
export function staticCredentials(map: Readonly<Record<string, Credentials>>): CredentialsProvider {
  return (host) => map[host];
}
