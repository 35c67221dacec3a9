/**
 * The served process's side of the keeper (keeper.ts), over the IPC channel the keeper opened:
 * `handover()` once at start (the connections a previous run left, at this process's
 * descriptors), `keep()` after each mount (resolves once the keeper holds a duplicate: a mount
 * reported done survives a crash from then on), `release()` after each unmount. Absent
 * (`keeperLink()` is undefined) when the process was not started by a keeper.
 * The channel never keeps the process alive by itself.
 */
import { keeperMessage, KEEPER_ENV, type HandedOver, type KeeperMessage, type ServedMessage } from './keeper-protocol.js';

export type { HandedOver };

export interface KeeperLink {
  handover(timeoutMs?: number): Promise<HandedOver[]>;
  /** 0 when kept, else the errno the keeper met (the connection then dies with this process). */
  keep(id: string, fd: number, state: unknown, timeoutMs?: number): Promise<number>;
  /** Resolves once the message is handed to the channel (before this process exits). */
  release(id: string): Promise<void>;
}

const ETIMEDOUT = 110;

export function keeperLink(): KeeperLink | undefined {
  if (process.env[KEEPER_ENV] !== '1' || typeof process.send !== 'function') return undefined;
  const waiting = new Map<string, (m: KeeperMessage) => void>();
  process.on('message', (raw: unknown) => {
    const parsed = keeperMessage.safeParse(raw);
    if (!parsed.success) return;
    const m = parsed.data;
    const key = m.t === 'kept' ? `kept:${m.id}` : 'handover';
    const w = waiting.get(key);
    if (w) {
      waiting.delete(key);
      w(m);
    }
  });
  process.channel?.unref();
  const send = (m: ServedMessage): Promise<void> => new Promise((resolve) => void process.send?.(m, undefined, undefined, () => resolve()));
  const ask = <T>(key: string, m: ServedMessage, timeoutMs: number, timedOut: T, pick: (m: KeeperMessage) => T): Promise<T> =>
    new Promise<T>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(key);
        resolve(timedOut);
      }, timeoutMs);
      waiting.set(key, (reply) => {
        clearTimeout(timer);
        resolve(pick(reply));
      });
      void send(m);
    });
  return {
    handover: (timeoutMs = 5_000) => ask('handover', { t: 'hello' }, timeoutMs, [], (m) => (m.t === 'handover' ? m.connections : [])),
    keep: (id, fd, state, timeoutMs = 5_000) => ask(`kept:${id}`, { t: 'keep', id, fd, state }, timeoutMs, ETIMEDOUT, (m) => (m.t === 'kept' ? m.errno : ETIMEDOUT)),
    release: (id) => send({ t: 'release', id }),
  };
}
