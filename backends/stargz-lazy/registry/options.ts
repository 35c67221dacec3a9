/**
 * Options of the registry client, a zod schema the stargz-lazy backend nests in its own
 * options (`registry: registryOptions`), so the host validates them before any code runs.
 * Every field has a default: `{}` is a working configuration.
 */
import { isAbsolute } from 'node:path';
import { z } from '../../../core/sdk.js';

const ms = (max: number) => z.number().int().positive().max(max);
/** Files are named by absolute path: the FUSE-serving process runs in another directory. */
const filePath = z.string().min(1).refine(isAbsolute, { message: 'expected an absolute file path' });

const timeoutFields = {
  /** TCP (and TLS) connect. */
  connectMs: ms(600_000),
  /** From sending a request to its complete response headers. */
  headersMs: ms(600_000),
  /** Longest silence between two pieces of a response body. */
  bodyMs: ms(600_000),
};

export const timeoutOptions = z
  .object({
    connectMs: timeoutFields.connectMs.default(5_000),
    headersMs: timeoutFields.headersMs.default(10_000),
    bodyMs: timeoutFields.bodyMs.default(15_000),
  })
  .strict();

/**
 * A host's own timeouts: only the fields it sets (no defaults: zod 4 fills the default of an
 * optional field, which would hide the global value).
 */
const hostTimeoutOptions = z
  .object({
    connectMs: timeoutFields.connectMs.optional(),
    headersMs: timeoutFields.headersMs.optional(),
    bodyMs: timeoutFields.bodyMs.optional(),
  })
  .strict();

/** `host` or `host:port`, `[ipv6]` or `[ipv6]:port`, as image references write it. */
export const hostKey = z
  .string()
  .regex(
    /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]{1,5})?$/,
    { message: "expected a registry host such as 'registry.example.com' or '10.0.0.5:5000' (no scheme, no path)" },
  );

/** A mirror of a registry host, tried before the host itself. */
export const mirrorOptions = z
  .object({
    /** `host[:port]` of the mirror; it serves the same `/v2/<repository>/…` paths. */
    host: hostKey,
    /**
     * Plain HTTP to the mirror. Default: the mirror's own `hosts` entry, else loopback hosts
     * plain and others HTTPS. TLS settings (`ca`, `certFile`, `keyFile`) and timeouts come
     * from the mirror's own `hosts` entry.
     */
    plainHttp: z.boolean().optional(),
  })
  .strict();

/** Settings of one registry host (key: host as written in image references, e.g. `10.0.0.5:5000`). */
export const hostOptions = z
  .object({
    /** Talk plain HTTP to this host (loopback hosts always are). */
    plainHttp: z.boolean().default(false),
    /** Timeouts for this host, overriding the global ones field by field. */
    timeouts: hostTimeoutOptions.prefault({}),
    /**
     * Mirrors tried in this order before the host itself; a mirror that answers 404, 5xx or
     * cannot be reached is passed over for the next (credentials are looked up per mirror host).
     */
    mirrors: z.array(mirrorOptions).max(16).default([]),
    /**
     * PEM files of CAs trusted for TLS to this host, in addition to the system's; read at
     * start. A loopback host with `ca` or `certFile` is HTTPS (loopback is plain otherwise).
     */
    ca: z.array(filePath).max(64).default([]),
    /** PEM client certificate for TLS to this host (needs `keyFile`). */
    certFile: filePath.optional(),
    /** PEM private key of `certFile`. */
    keyFile: filePath.optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    if ((h.certFile === undefined) !== (h.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [h.certFile === undefined ? 'certFile' : 'keyFile'], message: 'certFile and keyFile go together' });
    }
    const seen = new Set<string>();
    h.mirrors.forEach((m, i) => {
      if (seen.has(m.host)) ctx.addIssue({ code: 'custom', path: ['mirrors', i, 'host'], message: `mirror ${m.host} is listed twice` });
      seen.add(m.host);
    });
  });

export const retryOptions = z
  .object({
    /** Retries after the first attempt, for network errors, timeouts, 5xx and 429. */
    retries: z.number().int().min(0).max(20).default(4),
    /** First backoff; doubles each retry, with jitter. */
    baseDelayMs: ms(60_000).default(100),
    /** Longest single backoff. */
    maxDelayMs: ms(300_000).default(2_000),
    /** Give up once this much time has passed since the first attempt (no retry would end later). */
    totalMs: ms(3_600_000).default(30_000),
  })
  .strict()
  .refine((r) => r.maxDelayMs >= r.baseDelayMs, { message: 'maxDelayMs must be >= baseDelayMs', path: ['maxDelayMs'] });

export const registryOptions = z
  .object({
    timeouts: timeoutOptions.prefault({}),
    /**
     * Docker config file with registry credentials (`auths`, `credHelpers`, `credsStore`).
     * Default: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; a missing default
     * file means anonymous access. Re-read when it changes.
     */
    dockerConfig: filePath.optional(),
    /**
     * Kubernetes pull secrets (`kubernetes.io/dockerconfigjson`) mounted into the pod: absolute
     * paths of a `.dockerconfigjson` file or of a directory holding such files (the secret
     * volume's mount point). Read by snaphost, not by the FUSE-serving process (which may run
     * outside the pod), handed to it, and read again when they change. Their credentials are
     * used after the ones snaphost learned from the image's own pull (CRI proxy) and before the
     * docker config.
     */
    pullSecrets: z.array(filePath).max(64).default([]),
    /** Longest run of a `docker-credential-<helper> get`. */
    credentialHelperTimeoutMs: ms(600_000).default(10_000),
    retry: retryOptions.prefault({}),
    /**
     * containerd's registry hosts directories (`<dir>/<host>/hosts.toml`, `_default`, Docker's
     * certs.d files), read by the FUSE-serving process and re-read when they change: mirrors,
     * CAs, client certificates, plain HTTP, capabilities and headers defined once for
     * containerd apply to lazy reads too. The default is containerd's CRI `config_path`
     * default and Docker's; `[]` turns it off. `hosts` below adds to what they say.
     */
    hostsDirs: z
      .array(z.string().min(1).max(4095).refine(isAbsolute, { message: 'expected an absolute directory path' }))
      .max(16)
      .default(['/etc/containerd/certs.d', '/etc/docker/certs.d']),
    /** Per-host settings, added to the hosts directories' (explicit settings win for their host). */
    hosts: z
      .record(hostKey, hostOptions)
      .prefault({})
      .superRefine((hosts, ctx) => {
        for (const [host, h] of Object.entries(hosts)) {
          h.mirrors.forEach((m, i) => {
            if (m.host === host) ctx.addIssue({ code: 'custom', path: [host, 'mirrors', i, 'host'], message: 'a host cannot be its own mirror' });
          });
        }
      }),
    /** Keep-alive connections per origin (registry or blob storage). */
    connectionsPerOrigin: z.number().int().min(1).max(256).default(8),
    /** Idle keep-alive connections are closed after this long. */
    keepAliveMs: ms(600_000).default(30_000),
    /** Ranges sent in one multi-range GET; more are split over several requests. */
    maxRangesPerRequest: z.number().int().min(1).max(256).default(32),
    /** How long the blob-storage URL a registry redirected to is reused without asking the registry again. */
    redirectCacheMs: z.number().int().min(0).max(3_600_000).default(60_000),
  })
  .strict();

export type RegistryOptions = z.output<typeof registryOptions>;
export type RegistryOptionsInput = z.input<typeof registryOptions>;
export type TimeoutOptions = z.output<typeof timeoutOptions>;
export type RetryOptions = z.output<typeof retryOptions>;
export type HostOptions = z.output<typeof hostOptions>;
export type MirrorOptions = z.output<typeof mirrorOptions>;
