/**
 * The pull secrets (`registry.pullSecrets`), read by the daemon (the FUSE-serving process may
 * run outside the pod and not see the secret volume) and re-read when they change: every
 * `pollMs` the paths are stat'ed (read-pull-secrets.ts `scan`) and read again when anything
 * changed (a secret volume's `..data` swap replaces the files' inodes). Polling, not inotify:
 * the swap of a symlinked directory is what Kubernetes does, and a poll of a few stats sees it
 * the same way on every filesystem. Problems are logged when they appear (naming the file and
 * the key, never a value); subscribers hear of every change of the entries.
 */
import type { Logger } from '../../../core/sdk.js';
import type { PullSecretEntries } from '../fused-client/credentials-feed.js';
import type { WireHostCredentials } from '../protocol/credentials-protocol.js';
import { readPullSecrets, scanPullSecrets } from './read-pull-secrets.js';

/** Kubernetes itself takes up to a minute or so to update a secret volume. */
export const PULL_SECRETS_POLL_MS = 10_000;

export class PullSecretsWatch implements PullSecretEntries {
  #entries: readonly WireHostCredentials[] | undefined;
  #stamp: string | undefined;
  #problems: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  readonly #listeners = new Set<() => void>();

  private constructor(
    private readonly paths: readonly string[],
    private readonly log: Logger,
  ) {}

  /** Reads the secrets once, then follows them every `pollMs` (0: never again). */
  static async open(paths: readonly string[], log: Logger, pollMs = PULL_SECRETS_POLL_MS): Promise<PullSecretsWatch> {
    const watch = new PullSecretsWatch(paths, log.child({ component: 'pull-secrets' }));
    await watch.poll();
    if (pollMs > 0) {
      watch.#timer = setInterval(() => void watch.poll(), pollMs);
      watch.#timer.unref();
    }
    return watch;
  }

  entries(): readonly WireHostCredentials[] | undefined {
    return this.#entries;
  }

  /** What is wrong now (broken files, keys left out). */
  get problems(): readonly string[] {
    return this.#problems;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Looks for changes now; never throws. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const scan = await scanPullSecrets(this.paths);
      if (scan.stamp === this.#stamp) return;
      const read = await readPullSecrets(scan);
      const first = this.#stamp === undefined;
      this.#stamp = scan.stamp;
      for (const problem of read.problems) if (!this.#problems.includes(problem)) this.log.error({ problem }, 'pull secret unusable; the other pull secrets are used');
      this.#problems = read.problems;
      const changed = JSON.stringify(read.entries) !== JSON.stringify(this.#entries ?? null);
      this.#entries = read.entries;
      this.log.info(
        { files: read.files.map((f) => ({ file: f.file, registries: f.entries })), registries: read.entries.length, problems: read.problems.length },
        first ? 'pull secrets read' : 'pull secrets changed; read again',
      );
      if (changed && !first) for (const listener of this.#listeners) listener();
    } catch (err) {
      this.log.error({ reason: (err as Error).message }, 'reading the pull secrets failed; keeping the last ones read');
    } finally {
      this.#polling = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#listeners.clear();
  }
}
