/**
 * An async iterator made of a `next` and a `close`, whose return() and throw() close at once. An async generator
 * cannot do this: its return() waits for the next() it is awaiting, so a live subscription that completes while idle
 * would keep its listener until the next event.
 */
export function closableIterator<T>(
  next: () => Promise<IteratorResult<T, undefined>>,
  close: () => Promise<unknown>,
): AsyncIterableIterator<T> {
  return {
    next,
    async return() {
      await close();
      return { done: true, value: undefined };
    },
    async throw(error: unknown) {
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
