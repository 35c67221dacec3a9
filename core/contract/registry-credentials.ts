/**
 * Registry credentials the host learns for image repositories and hands to backends: the CRI
 * image-service proxy (kubelet's `--image-service-endpoint`) sees the credentials of every
 * image pull (the pod's `imagePullSecrets`) and keeps them for the repository pulled, so that a
 * lazy backend's later range reads of that image's layers authenticate the same way. Newer
 * credentials for a repository replace older ones; removing the image forgets them. A backend
 * that reads no registry ignores `ctx.registryCredentials`.
 *
 * Credentials are secrets: never log them, never write them to disk.
 */

/** One form of registry auth, as a CRI `AuthConfig` carries it. */
export type RegistryAuth =
  /** Basic auth, or user and password at the registry's token endpoint. */
  | { kind: 'password'; username: string; password: string }
  /** An OAuth2 refresh token, POSTed to the token endpoint. */
  | { kind: 'identityToken'; identityToken: string; username?: string }
  /** A bearer token sent to the registry as is. */
  | { kind: 'registryToken'; registryToken: string };

/** Credentials for one image repository. */
export interface RepositoryCredentials {
  /** Registry host as normalized image references write it: `docker.io`, `127.0.0.1:5000`. */
  host: string;
  /** Repository path in that registry: `library/busybox`. */
  repository: string;
  auth: RegistryAuth;
  /** When they were last given, ms since the epoch. */
  updatedAt: number;
}

export type RegistryCredentialsChange =
  | { type: 'set'; credentials: RepositoryCredentials }
  | { type: 'forget'; host: string; repository: string };

/** What the host knows now, and every change after. */
export interface RegistryCredentialSource {
  /** Every repository's credentials known now. */
  current(): RepositoryCredentials[];
  /** `listener` is called on every change, in order; returns the function that unsubscribes. A listener must not throw. */
  subscribe(listener: (change: RegistryCredentialsChange) => void): () => void;
}

/** The source of a host that learns no credentials (no CRI proxy; `snaphost check`; tests). */
export const NO_REGISTRY_CREDENTIALS: RegistryCredentialSource = Object.freeze({
  current: () => [],
  subscribe: () => () => undefined,
});
