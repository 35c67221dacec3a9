/**
 * Registry credentials pushed into the FUSE-serving process by the daemon
 * (`POST /v1/credentials`, protocol/credentials-protocol.ts), held in memory only (never
 * written anywhere): repository credentials the host learned from image pulls, and host-keyed
 * sources (`pull-secrets`). `lookup(host, repository)` answers in that order: the repository's
 * own credentials, then the longest matching entry of a host-keyed source. A change tells the
 * listeners which (host, repository) or host it touched, so that tokens obtained with the old
 * credentials are dropped (auth.ts `invalidate`).
 *
 * Bounded: at most `maxRepositories` repositories; beyond, the least recently set is dropped
 * (and logged, by host and repository only).
 */
import type { Logger } from '../../../core/sdk.js';
import type {
  CredentialsAnswer,
  CredentialsRequest,
  CredentialSourceName,
  WireHostCredentials,
  WireRegistryAuth,
} from '../protocol/credentials-protocol.js';
import type { Credentials } from './credentials.js';

/** Repositories held at most (a node pulls a few hundred images). */
export const MAX_PUSHED_REPOSITORIES = 8192;

/** What a change touched: one repository of a host, or (no repository) every repository of the host. */
export type CredentialsTouched = { host: string; repository?: string };

export interface PushedLookup {
  credentials: Credentials;
  /** Which source answered (for logs: never the secret). */
  source: 'repository' | CredentialSourceName;
}

export class PushedCredentials {
  /** `host\0repository` → credentials; Map order is the order of the last set (oldest first). */
  readonly #repositories = new Map<string, Credentials>();
  readonly #sources = new Map<CredentialSourceName, WireHostCredentials[]>();
  readonly #listeners = new Set<(touched: CredentialsTouched[]) => void>();

  constructor(
    private readonly log: Logger,
    private readonly maxRepositories = MAX_PUSHED_REPOSITORIES,
  ) {}

  /** Applies a validated request: forgets, then sets, then the replace. */
  apply(r: CredentialsRequest): CredentialsAnswer {
    const touched: CredentialsTouched[] = [];
    for (const { host, repository } of r.forget) {
      if (this.#repositories.delete(keyOf(host, repository))) touched.push({ host, repository });
    }
    for (const { host, repository, auth } of r.set) {
      const key = keyOf(host, repository);
      const before = this.#repositories.get(key);
      const next = credentialsOf(auth);
      this.#repositories.delete(key);
      this.#repositories.set(key, next);
      if (before === undefined || !sameCredentials(before, next)) touched.push({ host, repository });
    }
    while (this.#repositories.size > this.maxRepositories) {
      const oldest = this.#repositories.keys().next().value!;
      this.#repositories.delete(oldest);
      const [host, repository] = oldest.split('\u0000') as [string, string];
      touched.push({ host, repository });
      this.log.warn({ host, repository, max: this.maxRepositories }, 'too many repositories with pushed credentials; dropped the least recently given');
    }
    if (r.replace) {
      const before = this.#sources.get(r.replace.source) ?? [];
      this.#sources.set(r.replace.source, r.replace.entries);
      for (const host of changedHosts(before, r.replace.entries)) touched.push({ host });
    }
    if (touched.length > 0) for (const listener of this.#listeners) listener(touched);
    const answer = this.counts();
    this.log.info(
      { set: r.set.length, forgot: r.forget.length, replaced: r.replace?.source, changed: touched.length, ...answer },
      'registry credentials received from snaphost',
    );
    return answer;
  }

  /** Credentials for `repository` of `host`: the repository's own, then a host-keyed source's; undefined: none pushed. */
  lookup(host: string, repository: string | undefined): PushedLookup | undefined {
    if (repository !== undefined) {
      const own = this.#repositories.get(keyOf(host, repository));
      if (own !== undefined) return { credentials: own, source: 'repository' };
    }
    for (const [source, entries] of this.#sources) {
      const entry = bestEntry(entries, host, repository);
      if (entry !== undefined) return { credentials: credentialsOf(entry.auth), source };
    }
    return undefined;
  }

  /** `listener` is told what each change touched; returns the function that unsubscribes. */
  onChange(listener: (touched: CredentialsTouched[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  counts(): CredentialsAnswer {
    return { repositories: this.#repositories.size, sources: { 'pull-secrets': this.#sources.get('pull-secrets')?.length ?? 0 } };
  }
}

function keyOf(host: string, repository: string): string {
  return `${host}\u0000${repository}`;
}

/** The entry for `host` whose path is the longest prefix of `repository` (a path-less entry matches every repository); the first of equals. */
function bestEntry(entries: readonly WireHostCredentials[], host: string, repository: string | undefined): WireHostCredentials | undefined {
  let best: WireHostCredentials | undefined;
  for (const e of entries) {
    if (e.host !== host) continue;
    if (e.path !== undefined && (repository === undefined || (repository !== e.path && !repository.startsWith(`${e.path}/`)))) continue;
    if (best === undefined || (e.path?.length ?? -1) > (best.path?.length ?? -1)) best = e;
  }
  return best;
}

/** Hosts whose entries differ between two versions of a source. */
function changedHosts(before: readonly WireHostCredentials[], after: readonly WireHostCredentials[]): Set<string> {
  const byHost = (entries: readonly WireHostCredentials[]) => {
    const m = new Map<string, string>();
    for (const e of entries) m.set(e.host, `${m.get(e.host) ?? ''}${JSON.stringify(e)}\n`);
    return m;
  };
  const a = byHost(before);
  const b = byHost(after);
  const hosts = new Set<string>();
  for (const host of new Set([...a.keys(), ...b.keys()])) if (a.get(host) !== b.get(host)) hosts.add(host);
  return hosts;
}

export function credentialsOf(auth: WireRegistryAuth): Credentials {
  switch (auth.kind) {
    case 'password':
      return { username: auth.username, password: auth.password };
    case 'identityToken':
      return auth.username !== undefined ? { identityToken: auth.identityToken, username: auth.username } : { identityToken: auth.identityToken };
    case 'registryToken':
      return { registryToken: auth.registryToken };
  }
}

function sameCredentials(a: Credentials, b: Credentials): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
