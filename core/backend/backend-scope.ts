/**
 * Which backend is running right now, carried through async work with AsyncLocalStorage.
 * The host runs each backend's `create` and every gRPC handler inside `inBackend(name, …)`,
 * so timers and promises a backend starts stay attributed to it. That is how an uncaught
 * exception or unhandled rejection from a backend's own timer is logged with its name.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const scope = new AsyncLocalStorage<string>();

export function inBackend<T>(backend: string, fn: () => T): T {
  return scope.run(backend, fn);
}

/** The backend the current async context belongs to, if any. */
export function currentBackend(): string | undefined {
  return scope.getStore();
}
