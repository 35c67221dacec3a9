/**
 * The FUSE-serving process of the stargz-lazy backend: `node main.js --root <dir>`.
 *
 * It reads and validates `<root>/fused.json` (fused-config.ts), takes `<root>/fused.lock`,
 * keeps the chunk cache in `<root>/cache` (capped at `cache.diskBytes`), fetches mounted layers
 * whole in the background when `backgroundFetch.enabled` (quiet while container reads need the
 * registry), indexes TOCs in a worker thread (toc-index-worker-pool.ts: FUSE operations never
 * wait behind one), warms its code up right after it starts (warm-up.ts; `warm` in its status,
 * cut short by the first mount), and answers the control protocol on `<root>/fused.sock`. It
 * logs JSON lines to stderr (the spawner points stderr at `<root>/fused.log`). It runs on its
 * own, detached from snaphost, so that snaphost can restart while containers keep reading
 * through its mounts.
 *
 * It exits on its own (0) once it has served no layer, had no snaphost attached and answered
 * no request for `idleExitMs` (idle-exit.ts): a running snaphost keeps it, so do mounted layers.
 * Every `outsideCheckMs` it looks at what may change behind its back (outside-watch.ts): a
 * layer mount removed from outside is released (and logged), and once its root directory or
 * control socket is gone (no client can reach it) it exits as soon as it serves no layer.
 *
 * Started on the host (`fusedOnHost`, the environment of generation.ts), it first moves itself
 * out of the snaphost pod's cgroups (enter-cgroup.ts) and reports its generation in its status.
 *
 * SIGTERM/SIGINT: stop answering, unmount every layer (lazily: files in use keep working until
 * closed), exit 0. Exit status 2: bad arguments or configuration; 3: another process already
 * serves this root.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import pino from 'pino';
import { ChunkCache } from '../cache/chunk-cache.js';
import { WorkerIndexer } from '../estargz/toc-index-worker-pool.js';
import { BackgroundFetcher } from '../layer/background-fetcher.js';
import type { RemoteLayer } from '../layer/remote-layer.js';
import { PushedCredentials } from '../registry/pushed-credentials.js';
import { LiveRegistry } from '../registry/live-registry.js';
import { RegistryClient } from '../registry/registry-client.js';
import { LiveConfig } from './live-config.js';
import { serveControl } from './control-server.js';
import { fusedConfigSchema, type FusedConfig } from '../protocol/fused-config.js';
import { watchIdle } from './idle-exit.js';
import { EXIT_ALREADY_RUNNING, EXIT_USAGE } from '../protocol/exit-status.js';
import { lockInstance } from '../protocol/instance-lock.js';
import { issueLines } from '../protocol/schema-issues.js';
import { watchOutside } from './outside-watch.js';
import { registryProbe, remoteOpener } from './remote-opener.js';
import { fusedPaths } from '../protocol/root-layout.js';
import type { ServedCounters } from './process-metrics.js';
import { ServedMounts } from './served-mounts.js';
import { keeperLink } from '../fuse-kernel/keeper/keeper-link.js';
import { takeOverConnections } from './take-over-connections.js';
import { warmUp } from './warm-up.js';
import { enterCgroup } from './enter-cgroup.js';
import { limitCgroupMemory } from './cgroup-memory.js';
import { cgroupLimitsOf, memoryBudget } from '../protocol/memory-budget.js';
import { getHeapStatistics } from 'node:v8';
import { CGROUP_ENV, FUSED_PROTOCOL_VERSION, GENERATION_ENV } from '../protocol/generation.js';

class UsageError extends Error {}

/** How often containerd's registry hosts directories are looked at (stats only) for changes. */
const HOSTS_DIRS_POLL_MS = 2_000;

async function main(argv: string[]): Promise<void> {
  const root = parseArgs(argv);
  // Started on the host (`fusedOnHost`): out of the snaphost pod's cgroups before anything else.
  const cgroup = process.env[CGROUP_ENV];
  const cgroups = cgroup ? await enterCgroup(cgroup, process.pid, await readFile('/proc/self/mountinfo', 'utf8')) : undefined;
  const generation = process.env[GENERATION_ENV] || undefined;
  await mkdir(root, { recursive: true, mode: 0o700 });
  const paths = fusedPaths(root);
  const config = await readConfig(paths.config);
  const log = pino(
    {
      level: config.logLevel,
      base: { pid: process.pid, component: 'stargz-fused' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    pino.destination({ fd: 2, sync: true }),
  );
  let lock;
  try {
    lock = await lockInstance(root);
  } catch (err) {
    log.error({ err }, 'not starting');
    process.exitCode = EXIT_ALREADY_RUNNING;
    return;
  }
  const startedAt = new Date().toISOString();
  // Registry credentials the daemon pushes (POST /v1/credentials): in memory only, so a restart
  // of this process loses them until the daemon pushes them again (it does on connecting).
  const pushed = new PushedCredentials(log.child({ component: 'credentials' }));
  const registryLog = log.child({ component: 'registry' });
  const registry = new LiveRegistry({
    options: config.registry,
    make: (options) => new RegistryClient(options, { log: registryLog, pushed }),
    log: registryLog,
    pollMs: HOSTS_DIRS_POLL_MS,
  });
  // Within `fusedMemoryLimitBytes`: the heap limit came with NODE_OPTIONS (spawn-fused.ts).
  const budget = memoryBudget(config.memoryLimitBytes, config.cache.memoryBytes);
  if (budget.cacheCut) log.warn({ memoryBytes: config.cache.memoryBytes, cacheBytes: budget.cacheBytes, memoryLimitBytes: budget.limitBytes }, 'cache.memoryBytes does not fit in fusedMemoryLimitBytes: cut');
  const cgroupMemory = cgroups ? await limitCgroupMemory(cgroups, cgroupLimitsOf(budget.limitBytes, config.estargz.inflateBudgetBytes)) : undefined;
  const cache = await ChunkCache.open(paths.cache, {
    memoryBytes: budget.cacheBytes,
    diskBytes: config.cache.diskBytes,
    maxChunkBytes: config.estargz.maxChunkBytes,
    log,
  });
  const counters: ServedCounters = { registryBytes: 0, registryReads: 0 };
  const indexer = new WorkerIndexer(log.child({ component: 'toc-index-worker' }), { resourceLimits: { maxOldGenerationSizeMb: budget.workerHeapMb } });
  indexer.start();
  const { enabled, concurrency, quietMs, startDelayMs } = config.backgroundFetch;
  const background = enabled ? new BackgroundFetcher({ concurrency, quietMs, startDelayMs, log }) : undefined;
  // Under the connection keeper (fs.transport "kernel"): mounts are announced to it, and the
  // connections a previous run left are taken over before the control socket answers.
  const keeper = keeperLink();
  const openLayer = remoteOpener({ config, log, registry, cache, counters, indexer, onForegroundFetch: () => background?.noteForeground() });
  const mounts = new ServedMounts<RemoteLayer>({ config, log, cache, counters, openLayer, probe: registryProbe(registry), background, keeper });
  const handed = keeper ? await keeper.handover() : [];
  if (keeper && handed.length > 0) {
    await takeOverConnections({ handed, keeper, mounts, openLayer, readTimeoutMs: config.fs.readTimeoutMs, passthrough: config.fs.passthrough, log: log.child({ component: 'take-over' }) });
  }
  const live = new LiveConfig({ config, registry, cache, background, log });
  // Warmed up while nothing needs the process (snaphost's start at open waits for `warm`); the
  // first mount (or open) request stops it.
  const stopWarmUp = new AbortController();
  let warm = false;
  const server = await serveControl({
    socket: paths.socket,
    mounts: {
      mount: (r, signal) => {
        stopWarmUp.abort();
        return mounts.mount(r, signal);
      },
      open: (r) => {
        stopWarmUp.abort();
        return mounts.open(r);
      },
      unmount: (mp) => mounts.unmount(mp),
      list: () => mounts.list(),
      check: (mps, signal) => mounts.check(mps, signal),
      metrics: () => mounts.metrics(),
    },
    log,
    credentials: pushed,
    status: () => ({ pid: process.pid, startedAt, configDigest: live.digest, mounts: mounts.size, warm, protocol: FUSED_PROTOCOL_VERSION, ...(generation ? { generation } : {}) }),
    applyConfig: (next) => live.apply(next),
  });
  void warmUp({ log, indexer, limits: config.estargz, regionBytes: config.fs.regionBytes, signal: stopWarmUp.signal }).then((ms) => {
    // The warm-up's garbage goes now, while nothing waits, rather than in a collection in the
    // middle of a pull (a full one took ~25 ms there). `gc` exists when node runs with
    // --expose-gc, as defaultFusedCommand starts it.
    const gc = (globalThis as { gc?: () => void }).gc;
    const collected = performance.now();
    if (!stopWarmUp.signal.aborted) gc?.();
    warm = true;
    log.info(
      { ms: Math.round(ms), gcMs: gc ? Math.round(performance.now() - collected) : undefined, stopped: stopWarmUp.signal.aborted },
      'warm-up over',
    );
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    idle.stop();
    outside.stop();
    log.info({ signal, mounts: mounts.size }, 'stopping: unmounting every layer');
    // Each step may fail (a root removed from outside takes the cache and lock files with it);
    // the process exits all the same.
    const step = (what: string, fn: () => Promise<void> | void) =>
      Promise.resolve()
        .then(fn)
        .catch((err: unknown) => log.warn({ err }, `stopping: ${what} failed`));
    void (async () => {
      await step('closing the control socket', () => server.close());
      await step('stopping the background fetch', () => background?.close());
      await step('unmounting', () => mounts.unmountAll());
      await step('flushing the cache', () => cache.flush());
      await step('stopping the index worker', () => indexer.close());
      await step('closing registry connections', () => registry.close());
      await step('releasing the lock', () => lock.release());
      log.info('stopped');
      process.exit(0);
    })();
  };
  let orphaned: string | undefined;
  const exitIfOrphanedAndIdle = () => {
    if (orphaned !== undefined && mounts.size === 0) {
      log.info({ reason: orphaned }, 'unreachable and serving no layer: exiting');
      stop('orphaned');
    }
  };
  const outside = await watchOutside({
    everyMs: config.outsideCheckMs,
    root,
    socket: paths.socket,
    served: () => mounts.mounted(),
    onVanished: (mountpoint) => {
      mounts.releaseVanished(mountpoint).then(exitIfOrphanedAndIdle, (err: unknown) => log.error({ err, mountpoint }, 'cannot release a layer whose mount vanished'));
    },
    onOrphaned: (reason) => {
      orphaned = reason;
      log.warn({ reason, mounts: mounts.size }, `${reason}: no client can reach this process; it exits once it serves no layer`);
    },
    afterCheck: exitIfOrphanedAndIdle,
    log,
  });
  const idle = watchIdle({
    idleExitMs: config.idleExitMs,
    // An orphaned process (root or socket gone) is not kept by a client attached before.
    busy: () => mounts.size > 0 || (orphaned === undefined && server.busy()),
    onIdle: (idleMs) => {
      log.info({ idleMs }, 'no layer served and no snaphost attached: exiting');
      stop('idle');
    },
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => undefined);
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  log.info(
    { root, configDigest: live.digest, generation, protocol: FUSED_PROTOCOL_VERSION, cgroups, cgroupMemory, heapLimitBytes: getHeapStatistics().heap_size_limit },
    'FUSE-serving process ready',
  );
}

function parseArgs(argv: string[]): string {
  if (argv.length !== 2 || argv[0] !== '--root' || !argv[1]) throw new UsageError('usage: main.js --root <dir>');
  return resolve(argv[1]);
}

async function readConfig(file: string): Promise<FusedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = fusedConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issues = issueLines(parsed.error, '(root)').map((line) => `  ${line}`);
    throw new UsageError(`invalid ${file}:\n${issues.join('\n')}`);
  }
  return parsed.data;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`stargz-fused: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof UsageError ? EXIT_USAGE : 1);
});
