/**
 * The registry client: one undici Agent (a keep-alive Pool per origin, bounded connections,
 * connect timeout and TLS (custom CAs, client certificate) per registry host), the host table
 * (mirrors first), the credentials (docker config unless given), the token cache, and `send()`, which
 * makes one HTTP exchange for a blob with authorization and redirects handled:
 *
 * - Authorization is sent only to the registry's own origin; a redirect to blob storage on
 *   another origin goes without it (pre-signed URLs carry their own credentials).
 * - A 401 from the registry runs the challenge once (see auth.ts) and repeats the request.
 * - The storage URL a registry redirected to is reused for `redirectCacheMs`; if it stops
 *   working (expired signature, 404), the registry is asked again in the same call.
 *
 * Retries, ranges and body checks are the reader's (blob-reader.ts). One client per backend
 * instance; `close()` ends its connections.
 */
import { Agent, Pool } from 'undici';
import { InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import { Authorizer } from './auth.js';
import type { CredentialsProvider } from './credentials.js';
import { DockerCredentials } from './docker-credentials.js';
import { layeredCredentials } from './layered-credentials.js';
import type { PushedCredentials } from './pushed-credentials.js';
import type { LayerBlob } from './blob-source.js';
import { BlobReader } from './blob-reader.js';
import type { BlobLocation, BlobResponse, BlobTransport } from './blob-transport.js';
import { RegistryHosts, type RegistryEndpoint } from './hosts.js';
import { readHostsDirs, type HostsDirTable } from './hosts-dirs.js';
import { registryOptions, type RegistryOptions, type RegistryOptionsInput } from './options.js';
import { formatReference, type ImageReference } from './reference.js';
import { drain, MAX_DRAIN } from './read-body.js';
import { protocolError, transportError } from './registry-errors.js';

export interface RegistryClientDeps {
  log: Logger;
  /** Default: the docker config file (`options.dockerConfig`, `$DOCKER_CONFIG`, `~/.docker`). */
  credentials?: CredentialsProvider | undefined;
  /**
   * Credentials pushed by the daemon (the FUSE process), looked up before `credentials`; a
   * change drops the tokens obtained with the old ones.
   */
  pushed?: PushedCredentials | undefined;
}

const MAX_REDIRECTS = 5;
/** Storage URLs remembered at most (one per blob); the oldest goes first. */
const MAX_CACHED_REDIRECTS = 4096;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export class RegistryClient implements BlobTransport {
  readonly options: RegistryOptions;
  readonly hosts: RegistryHosts;
  /** containerd's hosts directories as read when the client was made (`problems`, `fingerprint`). */
  readonly hostsDirs: HostsDirTable;
  readonly auth: Authorizer;
  readonly log: Logger;
  private readonly agent: Agent;
  private readonly redirects = new Map<string, { url: string; expiresAt: number }>();
  private readonly singleRangeOrigins = new Set<string>();
  readonly #stopInvalidating: (() => void) | undefined;

  /**
   * `options` are validated (and defaulted) here too, so `{}` works outside a backend; TLS
   * files are read here. Throws InvalidArgumentError naming the option.
   */
  constructor(options: RegistryOptionsInput | RegistryOptions, deps: RegistryClientDeps) {
    const parsed = registryOptions.safeParse(options);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new InvalidArgumentError(`invalid registry options: ${issues.join('; ')}`);
    }
    this.options = parsed.data;
    this.log = deps.log;
    // A broken hosts.toml is skipped (and logged), never fatal: the next candidate serves the host.
    this.hostsDirs = readHostsDirs(this.options.hostsDirs);
    for (const problem of this.hostsDirs.problems) this.log.error({ problem }, `registry hosts directory: ${problem}`);
    this.hosts = new RegistryHosts(this.options, this.hostsDirs);
    this.agent = new Agent({
      connections: this.options.connectionsPerOrigin,
      keepAliveTimeout: this.options.keepAliveMs,
      keepAliveMaxTimeout: Math.max(this.options.keepAliveMs, 600_000),
      factory: (origin, opts) => {
        const key = typeof origin === 'string' ? origin : origin.origin;
        const { timeout, tls } = this.hosts.connectFor(key);
        return new Pool(origin, { ...(opts as Pool.Options), connect: { timeout, ...tls } });
      },
    });
    let credentials = deps.credentials;
    if (credentials === undefined) {
      const docker = new DockerCredentials({
        file: this.options.dockerConfig,
        helperTimeoutMs: this.options.credentialHelperTimeoutMs,
        log: deps.log,
      });
      void docker.check();
      credentials = docker.provider;
    }
    if (deps.pushed !== undefined) credentials = layeredCredentials(deps.pushed, credentials, deps.log);
    this.auth = new Authorizer({
      dispatcher: this.agent,
      log: deps.log,
      timeouts: this.options.timeouts,
      credentials,
    });
    this.#stopInvalidating = deps.pushed?.onChange((touched) => {
      for (const { host, repository } of touched) this.auth.invalidate(host, repository);
    });
  }

  /** A reader for one layer blob of an image. */
  blob(reference: ImageReference, layer: LayerBlob): BlobReader {
    return new BlobReader(this, layer.digest, this.locations(reference, layer));
  }

  /** Where the blob can be fetched from, in the order to try: registry endpoints, then the layer's URLs. */
  locations(reference: ImageReference, layer: LayerBlob): BlobLocation[] {
    const name = `${reference.host}/${reference.repository}`;
    const fromRegistry = this.hosts.resolve(reference.host).map((ep) => this.registryLocation(ep, reference, layer.digest));
    const direct = layer.urls.map((url): BlobLocation => {
      const origin = new URL(url).origin;
      return { what: `blob ${layer.digest} of ${name} at ${url}`, url, origin, timeouts: this.hosts.defaultTimeouts, role: 'url' };
    });
    return [...fromRegistry, ...direct];
  }

  private registryLocation(ep: RegistryEndpoint, ref: ImageReference, digest: string): BlobLocation {
    const via = ep.role === 'mirror' ? 'mirror ' : '';
    return {
      what: `blob ${digest} of ${formatReference({ host: ref.host, repository: ref.repository })} (${via}${ep.origin})`,
      url: `${ep.origin}${ep.path}/${ref.repository}/blobs/${digest}`,
      origin: ep.origin,
      timeouts: ep.timeouts,
      auth: { host: ep.host, origin: ep.origin, scope: `repository:${ref.repository}:pull`, repository: ref.repository },
      role: ep.role,
      ...(ep.headers ? { headers: ep.headers } : {}),
    };
  }

  /** False once a server answered a multi-range request with anything but multipart. */
  supportsMultiRange(loc: BlobLocation): boolean {
    return !this.singleRangeOrigins.has(loc.origin);
  }

  markSingleRangeOnly(loc: BlobLocation, why: string): void {
    if (this.singleRangeOrigins.has(loc.origin)) return;
    this.singleRangeOrigins.add(loc.origin);
    this.log.info({ origin: loc.origin, why }, 'registry does not serve multi-range requests; using single ranges');
  }

  /**
   * One exchange for the blob at `loc` (no retries). Throws transport failures as retryable
   * UnavailableErrors; any HTTP status is returned for the caller to judge.
   */
  async send(
    loc: BlobLocation,
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<BlobResponse> {
    try {
      const cached = this.redirects.get(loc.url);
      if (cached && cached.expiresAt > Date.now()) {
        const res = await this.follow(cached.url, method, headers, loc, signal);
        if (res.statusCode === 200 || res.statusCode === 206) return res;
        await drain(res);
        this.redirects.delete(loc.url);
        this.log.debug({ url: loc.url, status: res.statusCode }, 'cached blob storage URL failed; asking the registry again');
      }
      let epoch = loc.auth ? this.auth.epoch(loc.auth) : 0;
      let authorization = loc.auth ? await this.auth.headerFor(loc.auth, signal) : undefined;
      // A hosts.toml's headers first: what the reader sets (range) and authorization win.
      const base = loc.headers ? { ...loc.headers, ...headers } : headers;
      // One retry after a 401; one more when the credentials were replaced since the header was made.
      let renewedCredentials = false;
      for (let attempt = 0; ; attempt++) {
        const withAuth = authorization ? { ...base, authorization } : base;
        const res = await this.follow(loc.url, method, withAuth, loc, signal);
        if (res.statusCode === 401 && loc.auth && new URL(res.url).origin === loc.origin) {
          const replaced = this.auth.epoch(loc.auth) !== epoch;
          if (attempt === 0 || (replaced && !renewedCredentials)) {
            if (attempt > 0) renewedCredentials = true;
            epoch = this.auth.epoch(loc.auth);
            const challenge = res.headers['www-authenticate'];
            await drain(res);
            authorization = await this.auth.unauthorized(loc.auth, challenge, authorization, signal);
            continue;
          }
        }
        if ((res.statusCode === 200 || res.statusCode === 206) && res.url !== loc.url && this.options.redirectCacheMs > 0) {
          this.rememberRedirect(loc.url, res.url);
        }
        return res;
      }
    } catch (err) {
      throw transportError(loc.what, err);
    }
  }

  private rememberRedirect(from: string, to: string): void {
    const now = Date.now();
    if (this.redirects.size >= MAX_CACHED_REDIRECTS) {
      for (const [key, entry] of this.redirects) if (entry.expiresAt <= now) this.redirects.delete(key);
      if (this.redirects.size >= MAX_CACHED_REDIRECTS) this.redirects.delete(this.redirects.keys().next().value!);
    }
    this.redirects.set(from, { url: to, expiresAt: now + this.options.redirectCacheMs });
  }

  /** Requests `url`, following redirects; Authorization goes only to the registry's origin. */
  private async follow(
    url: string,
    method: 'GET' | 'HEAD',
    headers: Record<string, string | string[]>,
    loc: BlobLocation,
    signal: AbortSignal,
  ): Promise<BlobResponse> {
    let current = new URL(url);
    let sendHeaders = headers;
    for (let hop = 0; ; hop++) {
      const timeouts = current.origin === loc.origin ? loc.timeouts : this.hosts.defaultTimeouts;
      if (current.origin !== loc.origin && sendHeaders === headers) {
        // Authorization and a hosts.toml's headers are for the registry's origin only.
        sendHeaders = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'authorization' && !(loc.headers && name in loc.headers)));
      }
      const res = await this.agent.request({
        origin: current.origin,
        path: current.pathname + current.search,
        method,
        headers: sendHeaders,
        signal,
        headersTimeout: timeouts.headersMs,
        bodyTimeout: timeouts.bodyMs,
      });
      const location = res.headers.location;
      if (!REDIRECT_STATUSES.has(res.statusCode) || typeof location !== 'string') {
        return { statusCode: res.statusCode, headers: res.headers, body: res.body, url: current.href };
      }
      await res.body.dump({ limit: MAX_DRAIN }).catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw protocolError(loc.what, `more than ${MAX_REDIRECTS} redirects`);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        throw protocolError(loc.what, `redirect to an invalid URL ${JSON.stringify(location.slice(0, 200))}`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw protocolError(loc.what, `redirect to a non-http(s) URL ${next.protocol}`);
      }
      this.log.debug({ from: current.href, to: next.origin + next.pathname }, 'registry redirect');
      current = next;
    }
  }

  /** Closes every connection; readers fail afterwards. */
  async close(): Promise<void> {
    this.#stopInvalidating?.();
    await this.agent.close();
  }
}
