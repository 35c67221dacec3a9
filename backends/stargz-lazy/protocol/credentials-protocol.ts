/**
 * `POST /v1/credentials`: registry credentials the daemon hands to the FUSE-serving process
 * (see control-protocol.ts for the transport). Two sources, kept apart in the process:
 *
 * - `set` / `forget`: the credentials of one image repository, keyed by (host, repository), as
 *   the host learned them from image pulls (`ctx.registryCredentials`, the CRI proxy). A set
 *   replaces that repository's previous credentials; a forget drops them.
 * - `replace`: every entry of one source at once (`pull-secrets`: the `auths` of the
 *   `kubernetes.io/dockerconfigjson` secrets named by `registry.pullSecrets`), keyed by registry
 *   host and an optional repository path prefix (`registry.example.com/team`).
 *
 * ```
 * POST /v1/credentials  CredentialsRequest -> 200 CredentialsAnswer   (counts only, never a secret)
 * ```
 *
 * The process keeps them in memory only and merges: what a request does not name stays, so a
 * restarted daemon that knows fewer repositories does not take away those of images already
 * pulled. Applying the same request twice is harmless. The body may be larger than the other
 * requests' (MAX_CREDENTIALS_BODY_BYTES); the client splits sets and forgets into requests
 * under it (credentials-batches.ts), a replace always travels whole.
 */
import { z } from '../../../core/sdk.js';
import { hostKey } from '../registry/options.js';

/** Largest body of this request (a replace of every pull-secret entry travels in one). */
export const MAX_CREDENTIALS_BODY_BYTES = 1024 * 1024;
/** Repository changes in one request. */
export const MAX_REPOSITORY_CHANGES = 512;
/** Entries of one source (a replace). */
export const MAX_SOURCE_ENTRIES = 512;
/** A user name, as registries take them. */
export const MAX_USERNAME_CHARS = 1024;
/** A password or token: cloud registries' tokens are a few KiB (ECR ~2.7 KiB, Azure JWTs ~4 KiB). */
export const MAX_SECRET_CHARS = 16 * 1024;
/** A repository path (`library/busybox`); image references are at most 255 characters in all. */
export const MAX_REPOSITORY_CHARS = 255;

const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);
const username = z.string().min(1).max(MAX_USERNAME_CHARS).refine(noControl, 'must not contain control characters');
const secret = z.string().min(1).max(MAX_SECRET_CHARS).refine(noControl, 'must not contain control characters');
const host = hostKey.max(261);
/** Lower-case path components `a/b-c/d_e.f`, as the distribution spec names repositories. */
export const repositorySchema = z
  .string()
  .min(1)
  .max(MAX_REPOSITORY_CHARS)
  .regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, 'expected a repository path such as "library/busybox"');

/** One form of registry auth (core/contract/registry-credentials.ts `RegistryAuth`). */
export const registryAuthSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('password'), username, password: z.string().max(MAX_SECRET_CHARS).refine(noControl, 'must not contain control characters') }).strict(),
  z.object({ kind: z.literal('identityToken'), identityToken: secret, username: username.optional() }).strict(),
  z.object({ kind: z.literal('registryToken'), registryToken: secret }).strict(),
]);

export type WireRegistryAuth = z.output<typeof registryAuthSchema>;

export const repositoryKeySchema = z.object({ host, repository: repositorySchema }).strict();

export type RepositoryKey = z.output<typeof repositoryKeySchema>;

export const repositoryCredentialsSchema = repositoryKeySchema.extend({ auth: registryAuthSchema }).strict();

export type WireRepositoryCredentials = z.output<typeof repositoryCredentialsSchema>;

/** One entry of a host-keyed source: `path` limits it to repositories under that prefix. */
export const hostCredentialsSchema = z
  .object({ host, path: repositorySchema.optional(), auth: registryAuthSchema })
  .strict();

export type WireHostCredentials = z.output<typeof hostCredentialsSchema>;

export const CREDENTIAL_SOURCES = ['pull-secrets'] as const;

export type CredentialSourceName = (typeof CREDENTIAL_SOURCES)[number];

export const credentialsRequestSchema = z
  .object({
    set: z.array(repositoryCredentialsSchema).max(MAX_REPOSITORY_CHANGES).default([]),
    forget: z.array(repositoryKeySchema).max(MAX_REPOSITORY_CHANGES).default([]),
    /** Every entry of `source` is replaced by `entries` (an empty list clears it). */
    replace: z
      .object({ source: z.enum(CREDENTIAL_SOURCES), entries: z.array(hostCredentialsSchema).max(MAX_SOURCE_ENTRIES) })
      .strict()
      .optional(),
  })
  .strict()
  .refine((r) => r.set.length + r.forget.length <= MAX_REPOSITORY_CHANGES, { message: `at most ${MAX_REPOSITORY_CHANGES} sets and forgets in one request` });

export type CredentialsRequest = z.output<typeof credentialsRequestSchema>;
export type CredentialsRequestInput = z.input<typeof credentialsRequestSchema>;

/** What the process holds after the request. */
export interface CredentialsAnswer {
  repositories: number;
  /** Entries per host-keyed source. */
  sources: Record<CredentialSourceName, number>;
}
