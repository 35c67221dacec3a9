/**
 * Sends a connection's passthrough state (passthrough-state.ts) to the connection keeper again
 * whenever it changes: changes in one turn of the event loop are sent once (a container start
 * opening 100 libraries is one message per turn, not 100). `send` is called only while
 * `current()` says the mount is still this process's (an update after the unmount released the
 * connection would make the keeper hold it again).
 */
export class StateSync {
  #send: (() => void) | undefined;
  #current: () => boolean = () => false;
  #queued = false;

  /** Passed as `onPassthroughChange`: queues one send. */
  readonly changed = (): void => {
    if (this.#send === undefined || this.#queued) return;
    this.#queued = true;
    setImmediate(() => {
      this.#queued = false;
      if (this.#send !== undefined && this.#current()) this.#send();
    });
  };

  /** The keeper holds the connection now: from here on changes are sent (and one now, for those before). */
  start(send: () => void, current: () => boolean): void {
    this.#send = send;
    this.#current = current;
    this.changed();
  }
}
