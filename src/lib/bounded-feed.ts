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

export class SubscriberTooSlowError extends GraphQLError {
  constructor(limit: number) {
    super(`the subscriber fell ${limit} events behind and was ended; subscribe again (with \`after\` to resume)`, {
      extensions: { code: "CONSUMER_TOO_SLOW", limit },
    });
  }
}

/**
 * A live feed of values offered by `attach`'s callback, ended with SubscriberTooSlowError when more than `limit` wait
 * for the consumer. `attach` returns what detaches it; it runs when the consumer stops or the feed ends.
 */
export function boundedFeed<T>(
  attach: (offer: (value: T) => void) => () => void,
  limit = MAX_WAITING_EVENTS,
): Repeater<T> {
  return new Repeater<T>(async (push, stop) => {
    let waiting = 0;
    const detach = attach((value) => {
      if (waiting >= limit) {
        stop(new SubscriberTooSlowError(limit));
        return;
      }
      waiting += 1;
      // Settles once the consumer has taken the value (or the feed has stopped).
      void push(value).then(
        () => (waiting -= 1),
        () => (waiting -= 1),
      );
    });
    await stop;
    detach();
  });
}
