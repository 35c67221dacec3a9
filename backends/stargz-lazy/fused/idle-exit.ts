/**
 * When the FUSE-serving process may exit on its own: it serves no layer, no snaphost is
 * attached (`GET /v1/attach`, held open by every connected `FusedClient`) and no control
 * request is running, continuously for `idleExitMs`. A process that serves containers, or that
 * a running snaphost uses, never exits this way; one left behind by a snaphost that stopped
 * (a closed backend, a test's root, a daemon that exited) does not linger. 0 turns it off.
 */
export interface IdleExitOptions {
  idleExitMs: number;
  /** True while anything needs the process. */
  busy: () => boolean;
  /** Called once, when the process has been idle for `idleExitMs`. */
  onIdle: (idleMs: number) => void;
  /** How often to look (default: a quarter of `idleExitMs`, between 50 ms and 5 s). */
  checkEveryMs?: number;
  now?: () => number;
}

export interface IdleExit {
  stop(): void;
}

export function watchIdle(o: IdleExitOptions): IdleExit {
  if (o.idleExitMs === 0) return { stop: () => undefined };
  const now = o.now ?? Date.now;
  const every = o.checkEveryMs ?? Math.min(5_000, Math.max(50, Math.floor(o.idleExitMs / 4)));
  let idleSince: number | undefined;
  const timer = setInterval(() => {
    if (o.busy()) {
      idleSince = undefined;
      return;
    }
    const t = now();
    idleSince ??= t;
    if (t - idleSince < o.idleExitMs) return;
    clearInterval(timer);
    o.onIdle(t - idleSince);
  }, every);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
