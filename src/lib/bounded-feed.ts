import { Repeater } from "@repeaterjs/repeater";
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

/**
 * A live feed of values offered by `attach`'s callback, ended with SubscriberTooSlowError when more than `limit` wait
 * for the consumer, or when the process's feeds together have `budget.limit` waiting and this one is behind (has any
 * waiting): the subscribers that keep up keep receiving, the ones behind make room. `attach` returns what detaches it;
 * it runs when the consumer stops or the feed ends.
 */
export function boundedFeed<T>(
  attach: (offer: (value: T) => void) => () => void,
  limit = MAX_WAITING_EVENTS,
  budget: WaitingBudget = processWaitingBudget,
): Repeater<T> {
  return new Repeater<T>(async (push, stop) => {
    let waiting = 0;
    let ended = false;
    budget.feeds += 1;
    const end = (error: SubscriberTooSlowError) => {
      // Its waiting events leave the budget now, not one microtask per event later, so the feeds offered next in the
      // same loop see the room it made.
      ended = true;
      budget.waiting -= waiting;
      waiting = 0;
      stop(error);
    };
    const settle = () => {
      if (ended) return;
      waiting -= 1;
      budget.waiting -= 1;
    };
    const detach = attach((value) => {
      if (ended) return;
      if (waiting >= limit) return end(new SubscriberTooSlowError(limit));
      if (mustMakeRoom(waiting, budget)) return end(new SubscriberTooSlowError(budget.limit, "process"));
      waiting += 1;
      budget.waiting += 1;
      // Settles once the consumer has taken the value, or when the feed stops (the Repeater settles every push then).
      void push(value).then(settle, settle);
    });
    await stop;
    detach();
    budget.feeds -= 1;
    // A feed the consumer stopped (return) gives back what it still had waiting.
    if (!ended) {
      ended = true;
      budget.waiting -= waiting;
      waiting = 0;
    }
  });
}
