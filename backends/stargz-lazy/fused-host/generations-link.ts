/**
 * The `FusedLink` of `fusedOnHost`: the FUSE-serving process runs on the node from a runtime
 * copy under the backend's root (runtime-copy.ts, host-command.ts), one process per generation
 * (protocol/generation.ts). The current generation is this build's runtime id; its process is
 * started (or attached to: a snaphost restarted with the same build finds it on its socket) by
 * a `FusedClientLink` on `<root>/generations/<id>`. Processes of older generations that still
 * run are attached to without writing their configuration, and the calls reach them through a
 * `GenerationRouter`: they keep serving what they mounted; when one serves nothing it is let go
 * (it exits after its idle time) and its runtime copy is removed once it has exited.
 */
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../../core/sdk.js';
import { FusedClient } from '../fused-client/fused-client.js';
import type { CredentialsFeed } from '../fused-client/credentials-feed.js';
import { FusedClientLink } from '../fused-client/fused-client-link.js';
import type { FusedLink, FusedMounter } from '../fused-client/fused-link.js';
import type { FusedConfig } from '../protocol/fused-config.js';
import { generationPaths, generationsDir, GENERATION_ID } from '../protocol/generation.js';
import { GenerationRouter } from './generation-router.js';
import { hostCommand, realProbe, type FusedOnHost, type NamespaceProbe } from './host-command.js';
import { installRuntime, sweepRuntimes, type RuntimeSource } from './runtime-copy.js';

export interface GenerationsLinkOptions {
  root: string;
  config: FusedConfig;
  log: Logger;
  startTimeoutMs: number;
  host: FusedOnHost;
  /** What to copy (default: this Node and the application this module belongs to). */
  source?: RuntimeSource;
  probe?: NamespaceProbe;
  /**
   * Registry credentials for the current generation's process (told on every connect). Older
   * generations keep what they were told before; changes after the upgrade reach only the new one.
   */
  credentials?: CredentialsFeed;
}

/** Slack after an older process's idle exit before its runtime copy is looked at again. */
const SWEEP_SLACK_MS = 5_000;

export class GenerationsLink implements FusedLink {
  readonly #o: GenerationsLinkOptions;
  readonly #log: Logger;
  #setup: Promise<{ id: string; link: FusedClientLink }> | undefined;
  readonly #older = new Map<string, Promise<FusedMounter | undefined>>();
  readonly #drained = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(o: GenerationsLinkOptions) {
    this.#o = o;
    this.#log = o.log.child({ component: 'fused-generations' });
  }

  async get(signal: AbortSignal): Promise<FusedMounter> {
    const { link } = await this.#ready();
    return this.#router(await link.get(signal));
  }

  async running(): Promise<FusedMounter | undefined> {
    const { link } = await this.#ready();
    const current = await link.running();
    if (current === undefined && (await this.#olderClients()).size === 0) return undefined;
    return this.#router(current);
  }

  reset(client: FusedMounter): void {
    const current = client instanceof GenerationRouter ? client.current : client;
    if (current !== undefined) void this.#setup?.then(({ link }) => link.reset(current), () => undefined);
  }

  warm(): void {
    this.#ready().then(
      ({ link }) => link.warm(),
      (err: unknown) => this.#log.warn({ err }, 'cannot prepare the FUSE-serving process on the host; the next remote prepare tries again'),
    );
  }

  /**
   * Install the runtime copy, start (or attach to) the process and let it warm up; bounded by
   * `startTimeoutMs` in all (a first install copies ~130 MB, and the backend's create has its
   * own bound): past that it rejects, and the start goes on in the background for the first
   * remote prepare.
   */
  async start(signal: AbortSignal): Promise<void> {
    const bound = this.#o.startTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the FUSE-serving process on the host did not start within ${bound} ms; it goes on starting in the background`)), bound);
    });
    const starting = (async () => {
      const { id, link } = await this.#ready();
      await link.start(signal);
      const older = await this.#olderClients();
      if (older.size > 0) this.#log.info({ generation: id, older: [...older.keys()] }, 'older FUSE-serving processes keep serving the layers they mounted; new mounts go to this generation');
    })();
    starting.catch(() => undefined);
    try {
      await Promise.race([starting, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    const setup = this.#setup;
    const older = [...this.#older.values()];
    this.#older.clear();
    await Promise.all(older.map(async (p) => ((await p.catch(() => undefined)) as FusedClient | undefined)?.close()));
    const ready = setup ? await setup.catch(() => undefined) : undefined;
    // The link closes the credentials feed; without one (never set up) it is closed here.
    if (ready) await ready.link.close();
    else this.#o.credentials?.close();
  }

  /** Install the runtime copy and make the current generation's link (once; a failure is retried next time). */
  #ready(): Promise<{ id: string; link: FusedClientLink }> {
    if (this.#closed) return Promise.reject(new Error('stargz-lazy: the connection to the FUSE process is closed'));
    if (this.#setup) return this.#setup;
    const o = this.#o;
    const setup = (async () => {
      const runtime = await installRuntime(o.root, o.source ?? defaultSource(), this.#log);
      const { command, env } = await hostCommand(o.host, runtime, o.probe ?? realProbe(await which('nsenter')));
      const dir = generationPaths(o.root, runtime.id).dir;
      await sweepRuntimes(o.root, runtime.id, this.#log).catch((err: unknown) => this.#log.warn({ err }, 'cannot remove unused runtimes'));
      this.#log.info({ generation: runtime.id, dir, command: command.join(' ') }, 'FUSE-serving process runs on the host');
      return { id: runtime.id, link: new FusedClientLink(dir, o.config, o.log, o.startTimeoutMs, command, o.credentials, env) };
    })();
    this.#setup = setup;
    setup.catch(() => {
      if (this.#setup === setup) this.#setup = undefined;
    });
    return setup;
  }

  #router(current: FusedMounter | undefined): GenerationRouter {
    return new GenerationRouter({ current, older: () => this.#olderClients(), onDrained: (id) => this.#drain(id), log: this.#log });
  }

  /** Clients of the older generations whose process answers on its socket. */
  async #olderClients(): Promise<Map<string, FusedMounter>> {
    const { id: currentId } = await this.#ready();
    const ids = (await readdir(generationsDir(this.#o.root)).catch(() => [])).filter((id) => GENERATION_ID.test(id) && id !== currentId && !this.#drained.has(id));
    const out = new Map<string, FusedMounter>();
    for (const id of ids) {
      let pending = this.#older.get(id);
      if (!pending) {
        const paths = generationPaths(this.#o.root, id);
        pending = access(paths.socket).then(
          () => FusedClient.connect(paths.dir, { log: this.#o.log, config: this.#o.config, spawn: false, writeConfig: false }).catch(() => undefined),
          () => undefined,
        );
        this.#older.set(id, pending);
      }
      const client = await pending;
      if (client === undefined) this.#older.delete(id);
      else out.set(id, client);
    }
    return out;
  }

  /** Let an older generation go: it exits once idle; then its runtime copy can go too. */
  #drain(id: string): void {
    if (this.#drained.has(id)) return;
    this.#drained.add(id);
    const pending = this.#older.get(id);
    this.#older.delete(id);
    this.#log.info({ generation: id }, 'an older FUSE-serving process serves no layer any more: letting it exit');
    void pending?.then((c) => (c as FusedClient | undefined)?.close());
    const t = setTimeout(() => {
      this.#timers.delete(t);
      void this.#setup?.then(({ id: keep }) => sweepRuntimes(this.#o.root, keep, this.#log)).catch(() => undefined);
    }, this.#o.config.idleExitMs + SWEEP_SLACK_MS);
    t.unref();
    this.#timers.add(t);
  }
}

/** This Node, and the application directory this module was loaded from (dist/… or the sources). */
function defaultSource(): RuntimeSource {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.split(path.sep).includes('dist') ? '../../../..' : '../../..';
  return { node: process.execPath, appDir: path.resolve(here, up) };
}

async function which(cmd: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const file = path.join(dir || '.', cmd);
    if (await access(file).then(() => true, () => false)) return file;
  }
  return undefined;
}
