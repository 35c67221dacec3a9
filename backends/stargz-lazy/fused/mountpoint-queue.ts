/**
 * Operations on one mountpoint (mount, unmount, release) run one after the other, in the
 * order asked; operations on different mountpoints do not wait for each other. A failed
 * operation does not stop the next. A mountpoint's entry goes once its last operation is over.
 */
export class MountpointQueue {
  /** The last operation queued per mountpoint. */
  readonly #queues = new Map<string, Promise<unknown>>();

  run<T>(mountpoint: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(mountpoint) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#queues.set(mountpoint, settled);
    void settled.then(() => {
      if (this.#queues.get(mountpoint) === settled) this.#queues.delete(mountpoint);
    });
    return run;
  }
}
