import { describe, expect, it } from "vitest";
import { DELIVERY_WAKE_QUEUE, wakeUpJobs } from "../../src/modules/deliveries/delivery-wake-ups.js";
import { DispatchBook } from "../../src/modules/deliveries/dispatch-book.js";

describe("the dispatcher's bookkeeping", () => {
  it("claims the free slots, at most a batch, and nothing when every slot is taken", () => {
    const book = new DispatchBook(8, 5);
    expect(book.claimSize()).toBe(5);
    expect(book.claimed(5, 5)).toBe("claim-again");
    expect(book.claimSize()).toBe(3);
    expect(book.claimed(3, 3)).toBe("sleep");
    expect(book.busy).toBe(8);
    expect(book.claimSize()).toBe(0);
    expect(book.claimed(0, 0)).toBe("sleep");
  });

  it("sleeps after a claim that came back short (nothing more is due) or empty", () => {
    const book = new DispatchBook(64, 50);
    expect(book.claimed(50, 49)).toBe("sleep");
    expect(book.claimed(14, 0)).toBe("sleep");
    expect(book.busy).toBe(49);
  });

  it("wakes a loop asleep for want of a slot once a quarter of the slots are free, and no other", () => {
    const full = new DispatchBook(8, 8);
    full.claimed(8, 8);
    full.sleeping();
    expect([full.finished(), full.finished()]).toEqual([false, true]);
    full.awake();
    expect(full.finished()).toBe(false);

    const idle = new DispatchBook(8, 8);
    idle.claimed(8, 3);
    idle.sleeping();
    expect(idle.finished()).toBe(false);
  });

  it("refuses a finish without a delivery in flight, and a book without slots", () => {
    expect(() => new DispatchBook(4, 4).finished()).toThrow(/not in flight/);
    expect(() => new DispatchBook(0, 4)).toThrow(RangeError);
  });

  it("backs off while the database is away, doubling up to a cap, and reports the outage once it answers", () => {
    const book = new DispatchBook(4, 4);
    expect(book.answered()).toBe(0);
    const waits = Array.from({ length: 8 }, () => book.outage());
    expect(waits[0]?.first).toBe(true);
    expect(waits.slice(1).every((wait) => !wait.first)).toBe(true);
    expect(waits.map((wait) => wait.waitMs)).toEqual([250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
    expect(book.answered()).toBe(8);
    expect(book.outage()).toEqual({ waitMs: 250, first: true });
  });
});

describe("delivery wake-ups", () => {
  const now = Date.UTC(2026, 11, 7, 12, 0, 0, 400);

  it("stores none for times already come, and one for a time a moment ahead", () => {
    expect(wakeUpJobs([new Date(now - 60_000), new Date(now)], now)).toEqual([]);
    expect(wakeUpJobs([new Date(now + 300)], now).map((job) => job.startAfter)).toEqual([
      new Date(Date.UTC(2026, 11, 7, 12, 0, 1)),
    ]);
  });

  it("stores one job per second that later deliveries fall due in, starting at its end, with a derived id", () => {
    const jobs = wakeUpJobs(
      [new Date(now + 5_000), new Date(now + 5_300), new Date(now + 5_700), new Date(now + 3_600_000)],
      now,
    );
    expect(jobs.map((job) => job.startAfter)).toEqual([
      new Date(Date.UTC(2026, 11, 7, 12, 0, 6)),
      new Date(Date.UTC(2026, 11, 7, 12, 0, 7)),
      new Date(Date.UTC(2026, 11, 7, 13, 0, 1)),
    ]);
    expect(jobs.every((job) => job.name === DELIVERY_WAKE_QUEUE.name)).toBe(true);
    // The same second gets the same id from any writer, so pg-boss stores it once.
    const again = wakeUpJobs([new Date(now + 5_100)], now);
    expect(again[0]?.id).toBe(jobs[0]?.id);
    expect(new Set(jobs.map((job) => job.id)).size).toBe(3);
    expect(jobs[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
