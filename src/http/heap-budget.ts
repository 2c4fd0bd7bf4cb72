import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * A full garbage collection, run when a share of at least COLLECT_AFTER_BYTES is given back. V8 collects the old
 * generation only as the heap nears its limit, so a finished 25 MB batch left about 300 MB of garbage that the next
 * one piled on: measured RSS 770-810 MB for two full batches in a row under `npm start`'s 512 MB heap, against
 * the 600 MB we promise. One collection after a large request costs a pause of tens of milliseconds; small
 * requests never trigger it.
 */
const collectGarbage: () => void = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();
const COLLECT_AFTER_BYTES = 32 * 1024 * 1024;

/** Why a request could not get its share of the heap: the caller answers 503 SERVER_BUSY with Retry-After. */
export class HeapBudgetBusy extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super("the server is busy with large requests; retry in a moment");
  }
}

/**
 * The share of the heap that requests being parsed and handled may take at once, in estimated bytes (see
 * estimatedHeapBytes). Requests queue in order for their share and wait at most `maxWaitMs` (a full publishEvents
 * batch is handled in a few seconds), then are refused; one whose estimate is over the whole budget can never run
 * and is refused by its caller as too complex, before it gets here.
 *
 * Sized from the process's own heap limit, so that the documented maxima fit whatever `--max-old-space-size` a
 * deployment gives: 40 % of it, leaving the rest to what is not a request body (caches, pools, subscriptions,
 * GraphiQL's page once loaded) and to the garbage a finished request leaves until it is collected. With
 * `npm start`'s 512 MB heap that is about 210 MB: one full batch at a time (a typical one is estimated at 160 MB),
 * or many smaller ones.
 */
export class HeapBudget {
  private used = 0;
  private readonly waiting: { bytes: number; admit: () => void }[] = [];

  constructor(
    readonly capacityBytes = Math.floor(getHeapStatistics().heap_size_limit * 0.4),
    private readonly maxWaitMs = 10_000,
  ) {}

  /** Resolves with a release function once `bytes` fit, or rejects with HeapBudgetBusy after the wait. */
  async acquire(bytes: number): Promise<() => void> {
    const share = Math.min(bytes, this.capacityBytes);
    if (this.waiting.length === 0 && this.used + share <= this.capacityBytes) return this.take(share);
    return new Promise((resolve, reject) => {
      const entry = {
        bytes: share,
        admit: () => {
          clearTimeout(timer);
          resolve(this.take(share));
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(new HeapBudgetBusy(1));
        this.admitWaiting();
      }, this.maxWaitMs);
      this.waiting.push(entry);
    });
  }

  /** Estimated bytes held by requests now (for tests and metrics). */
  get inUse(): number {
    return this.used;
  }

  private take(bytes: number): () => void {
    this.used += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      if (bytes >= COLLECT_AFTER_BYTES) collectGarbage();
      this.admitWaiting();
    };
  }

  /** Admits waiting requests in order while the first one fits. */
  private admitWaiting(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0] as { bytes: number; admit: () => void };
      if (this.used + next.bytes > this.capacityBytes) return;
      this.waiting.shift();
      next.admit();
    }
  }
}
