/**
 * Group commit: callers submit items one by one; items that arrive while a write is in flight are written together
 * by the next one. An idle server writes each item at once; a busy one pays one transaction (and one WAL flush) per
 * batch instead of one per item. `write` returns one result per item, in order; if it throws, every item of that
 * batch gets the error, unless `writeAloneAfter(error)` says the error may be one item's own: then each item of the
 * batch is written alone, so that one caller's bad item does not fail the others.
 */
export function groupCommit<Item, Result>(
  write: (items: Item[]) => Promise<Result[]>,
  maxBatch = 200,
  writeAloneAfter: (error: unknown) => boolean = () => false,
): (item: Item) => Promise<Result> {
  const waiting: { item: Item; resolve(result: Result): void; reject(error: unknown): void }[] = [];
  let flushing: Promise<void> | undefined;
  const flush = async () => {
    try {
      while (waiting.length > 0) {
        const batch = waiting.splice(0, maxBatch);
        try {
          const results = await write(batch.map((entry) => entry.item));
          for (const [index, entry] of batch.entries()) entry.resolve(results[index] as Result);
        } catch (error) {
          if (batch.length === 1 || !writeAloneAfter(error)) {
            for (const entry of batch) entry.reject(error);
            continue;
          }
          for (const entry of batch) {
            await write([entry.item]).then(
              ([result]) => entry.resolve(result as Result),
              (own: unknown) => entry.reject(own),
            );
          }
        }
      }
    } finally {
      // Cleared in the same step that found the queue empty: a caller woken by the last resolve() who submits at
      // once must start a new flush, not wait for one that is already over.
      flushing = undefined;
    }
  };
  return (item) =>
    new Promise<Result>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (!flushing) flushing = flush();
    });
}
