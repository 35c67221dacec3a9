/**
 * The keeper's table of /dev/fuse connections: id (mountpoint) → the keeper's own duplicate of
 * the served process's descriptor and the state to hand back after a restart. Holding the
 * duplicate is what keeps a connection alive when the served process dies: the kernel aborts a
 * FUSE connection only when the last descriptor of it is closed; until a new process reads,
 * requests wait in the kernel's queue (a container blocks, it does not see ENOTCONN).
 */
import { closeSync } from 'node:fs';

export interface KeptConnection {
  id: string;
  /** The keeper's descriptor. */
  fd: number;
  state: unknown;
}

export class KeptConnections {
  readonly #byId = new Map<string, KeptConnection>();
  readonly #close: (fd: number) => void;

  constructor(close: (fd: number) => void = closeSync) {
    this.#close = close;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Keeps `fd` for `id`; a previous descriptor of the same id (a remount) is closed. */
  keep(id: string, fd: number, state: unknown): void {
    const old = this.#byId.get(id);
    if (old && old.fd !== fd) this.#close(old.fd);
    this.#byId.set(id, { id, fd, state });
  }

  /** Forgets `id` and closes its descriptor; false when it was not kept. */
  release(id: string): boolean {
    const c = this.#byId.get(id);
    if (!c) return false;
    this.#byId.delete(id);
    this.#close(c.fd);
    return true;
  }

  /** Every connection, in the order kept (the order they are handed to a new process). */
  list(): KeptConnection[] {
    return [...this.#byId.values()];
  }

  /** Closes everything (the keeper gives up). */
  closeAll(): void {
    for (const c of this.#byId.values()) this.#close(c.fd);
    this.#byId.clear();
  }
}
