/**
 * The connection keeper: runs the FUSE-serving process as its child, holds a duplicate of every
 * /dev/fuse descriptor the child announces (keeper-protocol.ts), and when the child dies (a
 * signal, a crash) while connections are kept, starts it again with those descriptors at fds
 * 4, 5, … (stdio; fd 3 is the IPC channel) and hands it the list. The new child serves them
 * without mounting and asks the kernel to resend what the dead one had read (FUSE_NOTIFY_RESEND),
 * so a container's read completes instead of failing with ENOTCONN.
 *
 * SIGTERM/SIGINT are forwarded to the child and end the keeper once the child exits (no restart
 * after that); a clean exit of the child with nothing kept ends it too, with the child's code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../../../core/sdk.js';
import type { FuseDevice } from '../fuse-device.js';
import { KeptConnections } from './kept-connections.js';
import { jsonBytes, KEEPER_ENV, MAX_CONNECTIONS, MAX_STATE_BYTES, servedMessage, type HandedOver, type KeeperMessage } from './keeper-protocol.js';
import { RestartPolicy, type Exit } from './restart-policy.js';

const EINVAL = 22;
const EMFILE = 24;
/** The first descriptor handed over (0-2: stdio, 3: IPC). */
export const FIRST_HANDED_FD = 4;

export interface KeeperOptions {
  /** The served process: [file, ...args]. */
  command: readonly string[];
  device: Pick<FuseDevice, 'takeFd'>;
  log: Logger;
  policy?: RestartPolicy;
  env?: NodeJS.ProcessEnv;
  /** Descriptors the keeper closes (tests observe them). */
  kept?: KeptConnections;
}

export class Keeper {
  readonly #o: KeeperOptions;
  readonly #kept: KeptConnections;
  readonly #policy: RestartPolicy;
  #child: ChildProcess | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  #runs = 0;
  #finished!: (code: number) => void;
  /** Resolves with the keeper's exit code. */
  readonly done: Promise<number>;

  constructor(o: KeeperOptions) {
    this.#o = o;
    this.#kept = o.kept ?? new KeptConnections();
    this.#policy = o.policy ?? new RestartPolicy();
    this.done = new Promise((resolve) => (this.#finished = resolve));
  }

  get kept(): number {
    return this.#kept.size;
  }

  /** The child's pid now (undefined between runs). */
  get childPid(): number | undefined {
    return this.#child?.pid;
  }

  start(): void {
    const [file, ...args] = this.#o.command;
    if (!file) throw new Error('the keeper needs the command of the process it runs');
    const handed = this.#kept.list();
    const connections: HandedOver[] = handed.map((c, i) => ({ id: c.id, fd: FIRST_HANDED_FD + i, state: c.state }));
    const run = ++this.#runs;
    const child = spawn(file, args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...handed.map((c) => c.fd)],
      env: { ...(this.#o.env ?? process.env), [KEEPER_ENV]: '1' },
    });
    this.#child = child;
    const log = this.#o.log.child({ child: child.pid, run });
    if (run > 1) log.warn({ connections: connections.length }, 'the FUSE-serving process started again; it takes the kept connections over');
    child.on('message', (raw: unknown) => this.#onMessage(child, raw, connections, log));
    child.once('error', (err) => {
      log.error({ err }, 'the FUSE-serving process could not be started');
      if (child.pid === undefined) this.#exited(child, { code: 1, signal: null }, log);
    });
    // 'close', not 'exit': it comes after the last message (a release sent just before exiting).
    child.once('close', (code, signal) => this.#exited(child, { code, signal }, log));
  }

  /** SIGTERM/SIGINT: forwarded; no restart from now on. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.#stopping = true;
    if (this.#restartTimer) {
      clearTimeout(this.#restartTimer);
      this.#restartTimer = undefined;
      this.#finish(0, 'stopped between two runs');
      return;
    }
    this.#child?.kill(signal);
  }

  #send(child: ChildProcess, m: KeeperMessage): void {
    if (child.connected) child.send(m, (err) => err && this.#o.log.warn({ err, t: m.t }, 'a message to the FUSE-serving process was lost'));
  }

  #onMessage(child: ChildProcess, raw: unknown, connections: HandedOver[], log: Logger): void {
    const parsed = servedMessage.safeParse(raw);
    if (!parsed.success) return log.warn({ issue: parsed.error.issues[0]?.message }, 'ignored a malformed message from the FUSE-serving process');
    const m = parsed.data;
    if (m.t === 'hello') return this.#send(child, { t: 'handover', connections });
    if (m.t === 'release') {
      if (this.#kept.release(m.id)) log.debug({ id: m.id, kept: this.#kept.size }, 'connection released');
      return;
    }
    let errno = 0;
    if (jsonBytes(m.state) > MAX_STATE_BYTES) errno = EINVAL;
    else if (this.#kept.size >= MAX_CONNECTIONS) errno = EMFILE;
    else {
      const fd = this.#o.device.takeFd(child.pid!, m.fd);
      if (fd < 0) errno = -fd;
      else this.#kept.keep(m.id, fd, m.state);
    }
    if (errno !== 0) log.warn({ id: m.id, fd: m.fd, errno }, 'cannot keep this FUSE connection: it will not survive a restart of the FUSE-serving process');
    else log.debug({ id: m.id, kept: this.#kept.size }, 'connection kept');
    this.#send(child, { t: 'kept', id: m.id, errno });
  }

  #exited(child: ChildProcess, exit: Exit, log: Logger): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const decision = this.#policy.decide(exit, this.#kept.size, this.#stopping);
    if (decision.restart) {
      log.warn({ code: exit.code, signal: exit.signal, kept: this.#kept.size, delayMs: decision.delayMs }, 'the FUSE-serving process died; starting it again');
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined;
        this.start();
      }, decision.delayMs);
      return;
    }
    const code = exit.code ?? 1;
    if (this.#kept.size > 0) log.error({ code: exit.code, signal: exit.signal, kept: this.#kept.size, reason: decision.reason }, 'not starting the FUSE-serving process again: its connections are closed');
    this.#finish(code, decision.reason);
  }

  #finish(code: number, reason: string): void {
    this.#kept.closeAll();
    this.#o.log.info({ code, reason }, 'keeper exiting');
    this.#finished(code);
  }
}
