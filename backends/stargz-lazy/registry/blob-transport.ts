/**
 * What a blob reader needs of the registry client (`registry-client.ts` is the one
 * implementation): the places a blob can be fetched from, one HTTP exchange with one of them,
 * and the client's memory of which origins serve multi-range requests. The reader depends on
 * this, not on the client, so the imports run one way: client → reader → transport.
 */
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../../../core/sdk.js';
import type { AuthTarget } from './auth-target.js';
import type { RegistryOptions, TimeoutOptions } from './options.js';

/** One place a blob can be fetched from. */
export interface BlobLocation {
  /** Names blob and place in messages: `blob sha256:… of 127.0.0.1:5000/app`. */
  what: string;
  url: string;
  /** Origin of `url`: the key of per-host memory (multi-range support). */
  origin: string;
  timeouts: TimeoutOptions;
  /** Registry authorization for this location; absent for direct URLs. */
  auth?: AuthTarget;
  /** Headers for this location's origin only (a hosts.toml's `header`); never logged. */
  headers?: Record<string, string[]>;
  /** A mirror, the upstream registry, or a URL from the layer's labels. */
  role?: 'mirror' | 'upstream' | 'url';
}

export interface BlobResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered, after redirects. */
  url: string;
}

export interface BlobTransport {
  readonly options: Pick<RegistryOptions, 'retry' | 'maxRangesPerRequest'>;
  readonly log: Logger;
  /**
   * One exchange for the blob at `loc` (no retries). Throws transport failures as retryable
   * UnavailableErrors; any HTTP status is returned for the caller to judge.
   */
  send(loc: BlobLocation, method: 'GET' | 'HEAD', headers: Record<string, string>, signal: AbortSignal): Promise<BlobResponse>;
  /** False once a server answered a multi-range request with anything but multipart. */
  supportsMultiRange(loc: BlobLocation): boolean;
  markSingleRangeOnly(loc: BlobLocation, why: string): void;
}
