/**
 * The snapshotter's side of the FUSE-serving process (see main.ts, control-protocol.ts).
 *
 * `connect` writes `<root>/fused.json`, attaches to the process and asks for its status, and
 * starts it when nothing answers, then waits (bounded) for its socket; a process that will not
 * start is reported with the tail of `<root>/fused.log`. A connected client stays attached
 * (`GET /v1/attach`, attach-stream.ts), so an idle process does not exit under it. The process
 * outlives the client: `close` ends only the client (and its attachment). A running process
 * with another configuration is sent this one (`POST /v1/config`, push-config.ts) and takes
 * it without unmounting; what it cannot take live applies when it restarts (logged).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, type Logger } from '../../../core/sdk.js';
import type { LayerCheck, Metrics, MountInfo, MountRequest, OpenRequest, Status } from '../protocol/control-protocol.js';
import type { CredentialsAnswer, CredentialsRequestInput } from '../protocol/credentials-protocol.js';
import { controlRequest } from './control-request.js';
import type { FusedMounter } from './fused-link.js';
import { attachTo, type AttachStream } from './attach-stream.js';
import { checkMounted } from './check-mounted.js';
import { configDigestOf, fusedConfigSchema, type FusedConfig, type FusedConfigInput } from '../protocol/fused-config.js';
import { EXIT_ALREADY_RUNNING } from '../protocol/exit-status.js';
import { FusedUnreachableError } from '../protocol/fused-errors.js';
import { fusedPaths, type FusedPaths } from '../protocol/root-layout.js';
import { issueLines } from '../protocol/schema-issues.js';
import { pushConfig } from './push-config.js';
import { defaultFusedCommand, spawnFused } from './spawn-fused.js';
import { keeperCommand } from '../fuse-kernel/keeper/keeper-command.js';
import { memoryBudget, nodeFlagsOf } from '../protocol/memory-budget.js';

export interface FusedClientOptions {
  log: Logger;
  config: FusedConfigInput | FusedConfig;
  /** Start the process when none answers (default true). */
  spawn?: boolean;
  /** How long to wait for a started process to answer (default 10 s). */
  startTimeoutMs?: number;
  /** Command that runs main.js, without `--root` (default: this Node and the compiled main.js). */
  command?: readonly string[];
  /** Environment added for a started process (spawn-fused.ts). */
  env?: Readonly<Record<string, string>>;
  /** Write `<root>/fused.json` (default true); false to attach to a process of another generation. */
  writeConfig?: boolean;
}

/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const STATUS_TIMEOUT_MS = 3_000;
const UNMOUNT_TIMEOUT_MS = 30_000;
/** A mount waits for the registry (retries included); the caller's signal usually ends it sooner. */
const MOUNT_TIMEOUT_MS = 300_000;
const ROOT_CHECK_TIMEOUT_MS = 10_000;
/** A hint answered at once; it is of no use after the mount request went. */
const OPEN_TIMEOUT_MS = 5_000;
/** The process bounds its registry probes (2 s); this bounds the whole check, the connection included. */
const CHECK_TIMEOUT_MS = 5_000;
const METRICS_TIMEOUT_MS = 5_000;
/** Applying credentials is a few map updates in the process. */
const CREDENTIALS_TIMEOUT_MS = 5_000;
/** How often a starting process is asked whether it answers (a failed connect to a missing socket is cheap). */
const POLL_MS = 10;
const LOG_TAIL_BYTES = 4096;

export class FusedClient implements FusedMounter {
  /** Starts in progress in this process, by root: concurrent connects share one. */
  static readonly #starting = new Map<string, Promise<Status>>();
  #closed = false;

  private constructor(
    readonly root: string,
    private readonly paths: FusedPaths,
    private readonly log: Logger,
    /** Status of the process when the client connected. */
    readonly status: Status,
    private readonly attachment: AttachStream,
  ) {}

  /** False once the process ended this client's attachment (it stopped or died) or the client closed. */
  get attached(): boolean {
    return this.attachment.attached;
  }

  /** Connect to the FUSE-serving process of `root`; start it (detached, own session, log to <root>/fused.log) if none answers. */
  static async connect(root: string, o: FusedClientOptions): Promise<FusedClient> {
    const parsed = fusedConfigSchema.safeParse(o.config);
    if (!parsed.success) {
      const issues = issueLines(parsed.error, '(root)');
      throw new InvalidArgumentError(`invalid FUSE process configuration: ${issues.join('; ')}`);
    }
    const config = parsed.data;
    const dir = resolve(root);
    const paths = fusedPaths(dir);
    if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH_BYTES) {
      throw new InvalidArgumentError(`${paths.socket} is longer than a unix socket path may be (${MAX_SOCKET_PATH_BYTES} bytes); use a shorter root`);
    }
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    if (o.writeConfig !== false) await writeConfig(paths.config, config);
    const log = o.log.child({ component: 'fused-client' });

    // Attached first: a process that is there then cannot go idle and exit under this client.
    let attachment = await attachTo(paths.socket, log, STATUS_TIMEOUT_MS).catch((err: unknown) => {
      if (err instanceof FusedUnreachableError) return undefined;
      throw err;
    });
    let status = attachment === undefined ? undefined : await tryStatus(paths.socket);
    if (!status || !attachment) {
      attachment?.close();
      if (o.spawn === false) throw new FusedUnreachableError(`no FUSE-serving process answers on ${paths.socket}`);
      let starting = FusedClient.#starting.get(dir);
      if (!starting) {
        const flags = nodeFlagsOf(memoryBudget(config.memoryLimitBytes, config.cache.memoryBytes));
        // fs.transport "kernel": under the connection keeper (fusedOnHost's command is not wrapped).
        const command = o.command ?? (config.fs.transport === 'kernel' ? keeperCommand(defaultFusedCommand()) : defaultFusedCommand());
        starting = start(dir, paths, command, o.startTimeoutMs ?? 10_000, log, o.env, flags);
        FusedClient.#starting.set(dir, starting);
        const forget = () => FusedClient.#starting.delete(dir);
        starting.then(forget, forget);
      }
      status = await starting;
      attachment = await attachTo(paths.socket, log, STATUS_TIMEOUT_MS);
    }
    // Also an older generation's process (attached without writing its configuration) is asked
    // to take the configuration live: a registry change reaches the layers it still serves.
    if (status.configDigest !== configDigestOf(config)) {
      status = { ...status, configDigest: await pushConfig(paths.socket, status, config, log) };
    }
    return new FusedClient(dir, paths, log, status, attachment);
  }

  /**
   * Mount layer `r.digest` at `r.mountpoint` (an existing empty directory). Resolves once the
   * FUSE file system is mounted and its root answers (footer and TOC fetched and verified).
   * Rejects with code `NOT_ESTARGZ` (NotEstargzLayerError) for an ordinary layer,
   * UnavailableError when the registry (or the process) cannot be reached or served bad data,
   * InvalidArgumentError for a bad request or a malformed eStargz blob.
   */
  async mount(r: MountRequest, signal?: AbortSignal): Promise<void> {
    this.#checkOpen();
    await controlRequest(this.paths.socket, 'POST', '/v1/mounts', r, { timeoutMs: MOUNT_TIMEOUT_MS, signal });
    try {
      await checkMounted(r.mountpoint, r.digest, ROOT_CHECK_TIMEOUT_MS);
    } catch (err) {
      this.log.warn({ err, mountpoint: r.mountpoint }, 'layer mount does not answer; unmounting it');
      await this.unmount(r.mountpoint).catch((e: unknown) => this.log.warn({ err: e, mountpoint: r.mountpoint }, 'unmount failed'));
      throw err;
    }
  }

  /**
   * Tell the process that a mount of this layer comes next, so that it fetches and indexes the
   * layer now (`POST /v1/open`); answered at once. A process too old to know the request
   * answers NotFoundError.
   */
  async open(r: OpenRequest): Promise<void> {
    this.#checkOpen();
    await controlRequest(this.paths.socket, 'POST', '/v1/open', r, { timeoutMs: OPEN_TIMEOUT_MS });
  }

  /** Unmount (lazily) whatever layer the process serves at `mountpoint`; nothing mounted there is not an error. */
  async unmount(mountpoint: string): Promise<void> {
    this.#checkOpen();
    await controlRequest(this.paths.socket, 'POST', '/v1/unmount', { mountpoint }, { timeoutMs: UNMOUNT_TIMEOUT_MS });
  }

  /** The mounts the process serves. */
  async list(): Promise<MountInfo[]> {
    this.#checkOpen();
    const answer = (await controlRequest(this.paths.socket, 'GET', '/v1/mounts', undefined, { timeoutMs: UNMOUNT_TIMEOUT_MS })) as {
      mounts?: unknown;
    };
    if (!Array.isArray(answer.mounts)) throw new FusedUnreachableError(`FUSE process at ${this.paths.socket}: malformed mount list`);
    return answer.mounts as MountInfo[];
  }

  /**
   * Whether each layer can be read in full now (served, and fully cached or its registry
   * reachable), in the order asked. NotFoundError from a process too old to know the request.
   */
  async check(mountpoints: string[], signal?: AbortSignal): Promise<LayerCheck[]> {
    this.#checkOpen();
    const answer = (await controlRequest(this.paths.socket, 'POST', '/v1/check', { mountpoints }, { timeoutMs: CHECK_TIMEOUT_MS, signal })) as {
      layers?: unknown;
    };
    if (!Array.isArray(answer.layers) || answer.layers.length !== mountpoints.length) {
      throw new FusedUnreachableError(`FUSE process at ${this.paths.socket}: malformed availability answer`);
    }
    return answer.layers as LayerCheck[];
  }

  /** The process's counters and gauges (no registry traffic). */
  async metrics(): Promise<Metrics> {
    this.#checkOpen();
    const answer = (await controlRequest(this.paths.socket, 'GET', '/v1/metrics', undefined, { timeoutMs: METRICS_TIMEOUT_MS })) as Metrics;
    if (typeof answer !== 'object' || answer === null || typeof answer.cache !== 'object' || typeof answer.readLatency !== 'object') {
      throw new FusedUnreachableError(`FUSE process at ${this.paths.socket}: malformed metrics`);
    }
    return answer;
  }

  /**
   * Hand registry credentials to the process (`POST /v1/credentials`, credentials-protocol.ts).
   * NotFoundError from a process too old to know the request.
   */
  async credentials(r: CredentialsRequestInput): Promise<CredentialsAnswer> {
    this.#checkOpen();
    return (await controlRequest(this.paths.socket, 'POST', '/v1/credentials', r, { timeoutMs: CREDENTIALS_TIMEOUT_MS })) as CredentialsAnswer;
  }

  /**
   * Resolves once the process has warmed up (its status says `warm`; a process too old to say
   * counts as warm), or after `timeoutMs` (a slow warm-up is no reason to fail a start).
   */
  async waitWarm(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.#checkOpen();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const status = await tryStatus(this.paths.socket);
      if (!status) throw new FusedUnreachableError(`the FUSE-serving process at ${this.paths.socket} stopped answering while warming up`);
      if (status.warm !== false || Date.now() >= deadline) return;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Closes the client only (and its attachment); the process keeps serving its layers. */
  async close(): Promise<void> {
    this.#closed = true;
    this.attachment.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new FailedPreconditionError('FusedClient is closed');
  }
}

async function tryStatus(socket: string): Promise<Status | undefined> {
  try {
    return (await controlRequest(socket, 'GET', '/v1/status', undefined, { timeoutMs: STATUS_TIMEOUT_MS })) as Status;
  } catch (err) {
    if (err instanceof FusedUnreachableError) return undefined;
    throw err;
  }
}

async function start(
  root: string,
  paths: FusedPaths,
  command: readonly string[],
  timeoutMs: number,
  log: Logger,
  env: Readonly<Record<string, string>> | undefined,
  nodeFlags: readonly string[],
): Promise<Status> {
  const child = spawnFused(root, paths.log, command, env, nodeFlags);
  log.info({ pid: child.pid, root, nodeFlags }, 'started the FUSE-serving process');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await tryStatus(paths.socket);
    if (status) return status;
    const exit = child.exited();
    // Exit 3: another process won the race for the root; it will answer on the socket.
    if (exit && exit.code !== EXIT_ALREADY_RUNNING) {
      const how = exit.code === null ? `was killed by ${exit.signal ?? 'a signal'}` : `exited with status ${exit.code}`;
      throw new FusedUnreachableError(`the FUSE-serving process ${how}; ${paths.log} ends with:\n${await tail(paths.log)}`);
    }
    if (Date.now() >= deadline) {
      throw new FusedUnreachableError(`the FUSE-serving process did not answer on ${paths.socket} within ${timeoutMs} ms; ${paths.log} ends with:\n${await tail(paths.log)}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function writeConfig(file: string, config: FusedConfig): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(config, null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function tail(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(-LOG_TAIL_BYTES).trimEnd() || '(empty)';
  } catch {
    return '(no log)';
  }
}
