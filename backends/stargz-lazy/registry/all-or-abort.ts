/** Runs tasks in parallel; the first failure aborts the others (and is what is thrown). */
export async function allOrAbort<T>(signal: AbortSignal, tasks: ((s: AbortSignal) => Promise<T>)[]): Promise<T[]> {
  if (tasks.length === 1) return [await tasks[0]!(signal)];
  const controller = new AbortController();
  const s = AbortSignal.any([signal, controller.signal]);
  return Promise.all(
    tasks.map((task) =>
      task(s).catch((err: unknown) => {
        controller.abort(err);
        throw err;
      }),
    ),
  );
}
