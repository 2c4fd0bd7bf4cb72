import { Repeater } from "@repeaterjs/repeater";
import { ChannelListener } from "../../db/listen.js";
import { AppError } from "../../lib/errors.js";
import type { Logger } from "../../logger.js";
import {
  eventsAfter,
  newestSettledPosition,
  type TailRow,
  tenantEventsBetween,
  tenantEventsUpTo,
} from "./console.store.js";
import {
  CONSOLE_CHANNEL,
  type ConsoleEventRow,
  type Cursor,
  compareCursors,
  cursorOf,
  ZERO_CURSOR,
} from "./console-events.js";

/** A subscriber's buffer overflowed: it ends, and may subscribe again with the last cursor it received. */
export class ConsumerTooSlowError extends AppError {
  readonly code = "CONSUMER_TOO_SLOW";
}

/** Rows read per query, by the tailer and by a subscriber's replay. */
const PAGE = 500;
/** A subscriber that falls this far behind is ended (it resumes with `after`, losing nothing). */
const MAX_BUFFERED = 10_000;
/** How soon to look again when committed rows wait behind an older, still running transaction. */
const HELD_BACK_RETRY_MS = 20;
/**
 * A transaction running longer than this (an idle psql session holding one open, say) must not stall every console:
 * rows held back this long are read anyway.
 */
const MAX_HOLD_MS = 10_000;
/** Notifications only shorten waits; the feed also looks on its own this often while anyone listens. */
const POLL_MS = 2_000;

interface Sink {
  tenantId: string;
  push(row: ConsoleEventRow): void;
}

/**
 * One per process: tails ConsoleEvent in (txid, id) order up to the horizon below which no transaction can still add
 * rows, and hands each row to the process's subscribers of its tenant. One query per wake-up serves every subscriber.
 * Idle (no query at all) while nobody subscribes.
 */
export class ConsoleFeed {
  private position: Cursor | undefined;
  private readonly sinks = new Set<Sink>();
  private polling = false;
  private again = false;
  private heldSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private listener: ChannelListener | undefined;
  /** Bumped when the feed goes idle, so a read still in flight then is dropped rather than moving the position. */
  private generation = 0;

  constructor(private readonly logger: Logger) {}

  async start(databaseUrl: string): Promise<void> {
    // The feed tails the table from its position, so a reconnect only has to make it look now.
    this.listener = new ChannelListener(
      databaseUrl,
      CONSOLE_CHANNEL,
      () => this.wake(),
      this.logger,
      () => this.wake(),
    );
    await this.listener.start();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.sinks.clear();
    await this.listener?.stop();
  }

  get subscriberCount(): number {
    return this.sinks.size;
  }

  /** Whether committed rows wait behind a transaction still open (they are sent once it ends, in order). */
  get holdingBack(): boolean {
    return this.heldSince !== undefined;
  }

  /**
   * The tenant's events after `after` (replayed from the database), then live ones, with no gap and no duplicate at
   * the seam: the subscriber joins the live feed first, at the feed's position, and the replay stops there.
   * With `last` and no `after`, the replay is the tenant's last `last` events.
   */
  subscribe(tenantId: string, options: { after?: Cursor; last?: number }): AsyncIterable<ConsoleEventRow> {
    return new Repeater<ConsoleEventRow>(async (push, stop) => {
      const live: ConsoleEventRow[] = [];
      let arrived: (() => void) | undefined;
      let overflowed = false;
      const sink: Sink = {
        tenantId,
        push: (row) => {
          if (live.length >= MAX_BUFFERED) overflowed = true;
          else live.push(row);
          arrived?.();
        },
      };
      // Join at the position as it is when the sink is added (no await in between), so the replay ends exactly where
      // the live rows begin.
      let seam: Cursor | undefined;
      while (!seam) {
        await this.joinPosition();
        seam = this.position;
      }
      this.sinks.add(sink);
      this.scheduleLook(POLL_MS);
      let stopped = false;
      stop.then(() => {
        stopped = true;
        arrived?.();
      });
      try {
        for await (const row of replay(tenantId, seam, options)) {
          if (stopped) break;
          await push(row);
        }
        while (!stopped) {
          if (overflowed) {
            throw new ConsumerTooSlowError("the subscriber fell too far behind; subscribe again with `after`");
          }
          const row = live.shift();
          if (row) await push(row);
          else await new Promise<void>((resolve) => (arrived = resolve));
          arrived = undefined;
        }
      } catch (error) {
        stop(error);
      } finally {
        this.leave(sink);
      }
    });
  }

  /** The position a new subscriber joins at: the current one, or (when the feed was idle) the horizon now. */
  private async joinPosition(): Promise<void> {
    if (this.position) return;
    const newest = await newestSettledPosition();
    // Another subscriber may have set it while this one waited; theirs is as good and may be further on.
    this.position ??= newest ?? ZERO_CURSOR;
  }

  private leave(sink: Sink): void {
    this.sinks.delete(sink);
    if (this.sinks.size > 0) return;
    this.position = undefined;
    this.heldSince = undefined;
    this.generation += 1;
    clearTimeout(this.timer);
  }

  private wake(): void {
    if (this.sinks.size === 0 || !this.position) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    void this.look();
  }

  private scheduleLook(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), ms);
    this.timer.unref();
  }

  private async look(): Promise<void> {
    this.polling = true;
    try {
      do {
        this.again = false;
        const generation = this.generation;
        const from = this.position;
        if (!from) break;
        const rows = await eventsAfter(from, PAGE);
        if (generation !== this.generation) break;
        const heldBack = this.dispatch(rows);
        if (heldBack) this.scheduleLook(HELD_BACK_RETRY_MS);
        else if (rows.length === PAGE) this.again = true;
        else this.scheduleLook(POLL_MS);
      } while (this.again && this.sinks.size > 0);
    } catch (error) {
      this.logger.warn({ err: error }, "console feed read failed; retrying");
      this.scheduleLook(POLL_MS);
    } finally {
      this.polling = false;
    }
  }

  /** Hands rows below the horizon to subscribers and moves the position; true when rows wait behind it. */
  private dispatch(rows: TailRow[]): boolean {
    const now = Date.now();
    for (const row of rows) {
      if (BigInt(row.txid) >= BigInt(row.horizon)) {
        this.heldSince ??= now;
        if (now - this.heldSince < MAX_HOLD_MS) return true;
        this.logger.warn(
          { txid: row.horizon },
          "a long-running transaction held the console feed back; reading past it",
        );
      }
      this.heldSince = undefined;
      const { horizon: _horizon, ...event } = row;
      this.position = cursorOf(row);
      for (const sink of this.sinks) if (sink.tenantId === row.tenantId) sink.push(event);
    }
    return false;
  }
}

/** The tenant's events in (after, seam], page by page; or its last `last` up to the seam. */
async function* replay(
  tenantId: string,
  seam: Cursor,
  options: { after?: Cursor; last?: number },
): AsyncGenerator<ConsoleEventRow> {
  if (!options.after) {
    if (!options.last) return;
    const rows = await tenantEventsUpTo(tenantId, seam, options.last);
    yield* rows;
    return;
  }
  let from = options.after;
  while (compareCursors(from, seam) < 0) {
    const rows = await tenantEventsBetween(tenantId, from, seam, PAGE);
    yield* rows;
    const lastRow = rows.at(-1);
    if (rows.length < PAGE || !lastRow) return;
    from = cursorOf(lastRow);
  }
}

/** Starts an API process's feed (the app context holds it; `stop()` stops it). */
export async function startConsoleFeed(databaseUrl: string, logger: Logger): Promise<ConsoleFeed> {
  const feed = new ConsoleFeed(logger);
  await feed.start(databaseUrl);
  return feed;
}
