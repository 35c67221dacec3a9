/**
 * Blobs found not to be eStargz, by layer digest, with the rejection that says why. An ordinary
 * layer is opened more than once: the open hint (`POST /v1/open`) then the mount that follows
 * it, the same layer in another image, a re-pull. Each open would fetch the blob's last 512 KiB
 * again (all of a shorter blob) only to be told the same thing; a remembered rejection answers
 * them with no request. A digest names the content, so the answer holds for every reference.
 *
 * Only a `NotEstargzError` is remembered: the footer is not there. A registry failure, a timeout,
 * bad bytes (VerificationError) or an abort is not an answer about the blob, and the next open
 * asks again.
 *
 * Bounded: at most `max` digests, the one least recently used goes first.
 */
import { NotEstargzError } from '../estargz/errors.js';

/** Digests remembered by default: far more ordinary layers than a node pulls between restarts. */
export const REJECTED_BLOBS_MAX = 1024;

export class RejectedBlobs {
  readonly #rejected = new Map<string, NotEstargzError>();

  constructor(private readonly max = REJECTED_BLOBS_MAX) {}

  get size(): number {
    return this.#rejected.size;
  }

  /** The rejection of the blob `digest`, when one is remembered (it becomes the most recently used). */
  get(digest: string): NotEstargzError | undefined {
    const err = this.#rejected.get(digest);
    if (err === undefined) return undefined;
    this.#rejected.delete(digest);
    this.#rejected.set(digest, err);
    return err;
  }

  /** Remember `err` for the blob `digest` when it is a definitive rejection; other errors are ignored. */
  note(digest: string, err: unknown): void {
    if (!(err instanceof NotEstargzError) || this.max <= 0) return;
    this.#rejected.delete(digest);
    while (this.#rejected.size >= this.max) this.#rejected.delete(this.#rejected.keys().next().value!);
    this.#rejected.set(digest, err);
  }
}
