/**
 * What the CRI proxy learns from the calls it forwards (the bytes forwarded are never changed):
 *
 * - PullImage: the image's (host, repository) and the request's AuthConfig are read, and the
 *   credentials kept, BEFORE forwarding: containerd asks the lazy backend to mount the image's
 *   layers during the pull, and those mounts read the registry with them. When containerd
 *   answers with an error, the store is put back as it was (the previous credentials of the
 *   repository, or none), unless a later pull replaced them meanwhile. A pull without
 *   credentials changes nothing.
 * - RemoveImage: when containerd answers OK, ListImages says which repositories still have an
 *   image; the credentials of every other repository are forgotten (this also catches images
 *   removed behind CRI's back, e.g. by `ctr`). A pull that finished meanwhile keeps its own.
 *   An image removed by ID or digest is covered the same way: what counts is what is left.
 *
 * A request that cannot be decoded is forwarded all the same (containerd answers it); nothing
 * is learned from it. Nothing here logs a request, a credential or a decoding error's input.
 */
import { decodePullImage } from '../grpc/cri-image-service.js';
import type { Logger } from '../logger.js';
import { registryAuth } from './auth-config.js';
import type { CredentialStore } from './credential-store.js';
import { imageRepository, repositoryKey, type ImageRepository } from './image-reference.js';
import type { RegistryAuth } from '../contract/registry-credentials.js';
import type { Upstream } from './upstream.js';

/** What a PullImage request carries that matters once it succeeded. */
export interface PullIntent {
  repo?: ImageRepository;
  auth?: RegistryAuth;
  /** Strings that must not appear in an answer or a log line. */
  secrets: string[];
}

export function readPull(request: Buffer, log: Logger): PullIntent {
  let decoded: ReturnType<typeof decodePullImage>;
  try {
    decoded = decodePullImage(request);
  } catch {
    log.debug('PullImage request could not be decoded; forwarded as is, nothing learned');
    return { secrets: [] };
  }
  const a = decoded.auth;
  const secrets = a ? [a.password, a.auth, a.identityToken, a.registryToken] : [];
  const repo = imageRepository(decoded.image);
  if (!repo) {
    log.debug('PullImage of a reference that is not an image name; nothing learned');
    return { secrets };
  }
  if (!a) return { repo, secrets };
  const r = registryAuth(a, repo.host);
  if (r.auth === undefined) {
    log.debug({ repository: repositoryKey(repo), reason: r.reason }, 'PullImage credentials not kept');
    return { repo, secrets };
  }
  if (r.auth.kind === 'password') secrets.push(r.auth.password);
  return { repo, auth: r.auth, secrets };
}

/** Keep the pull's credentials now; returns what undoes that if the pull fails. */
export function startPull(intent: PullIntent, store: CredentialStore): () => void {
  const { repo, auth } = intent;
  if (!repo || !auth) return () => undefined;
  const previous = store.get(repo);
  store.set(repo, auth);
  const mine = store.get(repo)!;
  return () => store.revert(repo, mine, previous);
}

/** After a successful RemoveImage: forget the repositories no image is left of. */
export async function forgetRemoved(store: CredentialStore, upstream: Upstream, deadline: number, log: Logger): Promise<void> {
  if (store.size === 0) return;
  const started = Date.now();
  let images;
  try {
    images = await upstream.listImages(deadline);
  } catch (err) {
    const e = err as { code?: number; details?: string };
    log.warn({ code: e.code, details: e.details }, 'ListImages after RemoveImage failed; credentials are kept until the next removal or their TTL');
    return;
  }
  const referenced = new Set<string>();
  for (const image of images) {
    for (const name of [...image.repoTags, ...image.repoDigests]) {
      const repo = imageRepository(name);
      if (repo) referenced.add(repositoryKey(repo));
    }
  }
  store.keepOnly(referenced, 'no image of the repository is left', started);
}

/** `text` with every secret (4 characters or more) replaced. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}
