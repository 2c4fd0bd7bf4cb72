import { GraphQLError } from "graphql";

/**
 * Events one live subscription may have waiting for its client. graphql-ws sends a subscription's next event only
 * once the previous one is written to the socket, so a client that reads slowly or not at all leaves events waiting
 * here. Past this many the subscription ends with CONSUMER_TOO_SLOW (it resumes from its cursor, where it has one):
 * a Repeater's own queue stops at 1,024 by throwing from `push`, which, inside an event listener or a timer, was an
 * uncaught exception that ended the process.
 */
export const MAX_WAITING_EVENTS = 500;

/**
 * Events all live subscriptions of the process may have waiting together. One waiting event costs about 1.4 KB of
 * heap (the Repeater's queue entry, its promise and our settle callbacks; measured with 100,000 waiting over 1,000
 * feeds, Node 20), so the per-subscription bound alone let 10,000 subscribers behind a burst hold 7 GB: the bench's
 * 10,000-subscriber run ran a 512 MB heap out. 40,000 is about 56 MB.
 *
 * Past it, a subscriber is ended only when it has more than twice the average waiting (and more than a few): a batch
 * of notices is handed out in one synchronous loop, so during it every subscriber, fast or slow, has several waiting,
 * and ending all of those would end the ones that keep up. Past twice the budget (about 112 MB), when the process
 * itself is what falls behind and everyone is behind alike, any subscriber with events waiting is ended.
 */
export const MAX_WAITING_EVENTS_IN_PROCESS = 40_000;
/**
 * Live subscriptions (feeds) of one process, WebSocket and SSE together. The bench measured 19-22 MB of RSS per 1,000
 * subscribed sockets at 10,000 (a socket and its subscription; a second subscription on the same socket costs far less),
 * so 20,000 is about 450 MB beside the rest: twice the 10,000 one 2-core process was measured serving.
 */
export const DEFAULT_MAX_SUBSCRIPTIONS = 20_000;

/** Waiting events that never count as behind, whatever the average: a batch's worth of notices. */
const ALWAYS_FAIR_SHARE = 8;

/** What the feeds of one process have waiting, against their shared limit. */
export interface WaitingBudget {
  readonly limit: number;
  waiting: number;
  /** Feeds running now. */
  feeds: number;
}

/** The budget every feed shares unless given its own (tests give one). */
export const processWaitingBudget: WaitingBudget = { limit: MAX_WAITING_EVENTS_IN_PROCESS, waiting: 0, feeds: 0 };

/** Whether a feed with `waiting` events must make room, given what the process has waiting. */
function mustMakeRoom(waiting: number, budget: WaitingBudget): boolean {
  if (waiting === 0 || budget.waiting < budget.limit) return false;
  if (budget.waiting >= 2 * budget.limit) return true;
  const average = budget.waiting / Math.max(1, budget.feeds);
  return waiting > Math.max(ALWAYS_FAIR_SHARE, 2 * average);
}

export class SubscriberTooSlowError extends GraphQLError {
  constructor(limit: number, scope: "subscription" | "process" = "subscription") {
    super(
      scope === "subscription"
        ? `the subscriber fell ${limit} events behind and was ended; subscribe again (with \`after\` to resume)`
        : `the server's subscriber queues are full (${limit} events waiting) and this subscriber was behind, so it was ended; subscribe again (with \`after\` to resume)`,
      { extensions: { code: "CONSUMER_TOO_SLOW", limit, scope } },
    );
  }
}

export class TooManySubscriptionsError extends GraphQLError {
  constructor(limit: number) {
    super(`this server already runs ${limit} live subscriptions, its limit; try again later or another instance`, {
      extensions: { code: "TOO_MANY_SUBSCRIPTIONS", limit, scope: "process" },
    });
  }
}

/**
 * A live feed of values offered by `attach`'s callback, ended with SubscriberTooSlowError when more than `limit` wait
 * for the consumer, or when the process's feeds together have `budget.limit` waiting and this one is behind (has any
 * waiting): the subscribers that keep up keep receiving, the ones behind make room. `attach` runs on the first read
 * and returns what detaches it; that runs when the consumer stops or the feed ends. `keep`, when given, drops the
 * values the subscriber filters out before they wait or count.
 *
 * Hand-made rather than a Repeater: with 10,000 subscribers at 2 events a second (the bench), the Repeater's
 * per-value promise and queue entry, and a second Repeater per filter (graphql-yoga's pipe/filter), were about 8 % of
 * the server's CPU and much of its garbage. A value offered while the consumer waits goes to it directly.
 */
export function boundedFeed<T>(
  attach: (offer: (value: T) => void) => () => void,
  limit = MAX_WAITING_EVENTS,
  budget: WaitingBudget = processWaitingBudget,
  keep?: (value: T) => boolean,
): AsyncIterableIterator<T> & { return(): Promise<IteratorResult<T, undefined>> } {
  const queue: T[] = [];
  let head = 0;
  let detach: (() => void) | null = null;
  let started = false;
  /** Set once the feed ends: done, or the error the consumer gets after the values still queued. */
  let ended: { error: SubscriberTooSlowError | null } | null = null;
  let reader: { resolve(step: IteratorResult<T, undefined>): void; reject(error: unknown): void } | null = null;

  const waiting = () => queue.length - head;
  const stop = (error: SubscriberTooSlowError | null) => {
    if (ended) return;
    ended = { error };
    // Its waiting events leave the budget now, so the feeds offered next in the same loop see the room it made.
    budget.waiting -= waiting();
    if (started) budget.feeds -= 1;
    detach?.();
    detach = null;
    if (reader && waiting() === 0) settleEnded();
  };
  const settleEnded = () => {
    const current = reader;
    reader = null;
    if (!current || !ended) return;
    if (ended.error) {
      const { error } = ended;
      ended.error = null;
      current.reject(error);
    } else current.resolve({ done: true, value: undefined });
  };
  const offer = (value: T) => {
    if (ended || (keep && !keep(value))) return;
    if (reader) {
      const current = reader;
      reader = null;
      current.resolve({ done: false, value });
      return;
    }
    if (waiting() >= limit) return stop(new SubscriberTooSlowError(limit));
    if (mustMakeRoom(waiting(), budget)) return stop(new SubscriberTooSlowError(budget.limit, "process"));
    queue.push(value);
    budget.waiting += 1;
  };

  return {
    next() {
      if (!started && !ended) {
        started = true;
        budget.feeds += 1;
        detach = attach(offer);
      }
      if (waiting() > 0) {
        const value = queue[head] as T;
        queue[head] = undefined as T;
        head += 1;
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
        } else if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        // Values still queued after the feed ended already left the budget.
        if (!ended) budget.waiting -= 1;
        return Promise.resolve({ done: false, value });
      }
      if (ended) {
        return new Promise((resolve, reject) => {
          reader = { resolve, reject };
          settleEnded();
        });
      }
      return new Promise((resolve, reject) => {
        reader = { resolve, reject };
      });
    },
    return() {
      stop(null);
      queue.length = 0;
      head = 0;
      if (ended) ended.error = null;
      settleEnded();
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
