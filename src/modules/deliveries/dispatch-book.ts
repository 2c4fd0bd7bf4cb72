import { backoffMs } from "../../lib/backoff.js";

/** While the database is unavailable the loop backs off from this, doubling, up to the cap. */
const OUTAGE_BACKOFF_MS = 250;
const OUTAGE_BACKOFF_CAP_MS = 5_000;

/**
 * Below this share of busy slots, a loop asleep for want of a free slot is woken. Waking it after every finished
 * delivery cost an empty claim each, which at low rates was most of the dispatcher's work (table-queue profile).
 */
const WAKE_AT_BUSY_SHARE = 0.75;

/**
 * The dispatcher's bookkeeping, with no I/O, so that it can be read and tested on its own: the slots in use, how many
 * deliveries to claim next, whether to claim again at once or sleep, when a finished delivery wakes the loop, and how
 * long to back off while the database is away.
 */
export class DispatchBook {
  private inFlight = 0;
  private asleepForCapacity = false;
  private outageFailures = 0;

  constructor(
    /** Deliveries in flight at once. */
    readonly concurrency: number,
    /** Deliveries claimed at most per statement. */
    readonly batchSize: number,
  ) {
    if (!(concurrency >= 1 && batchSize >= 1)) throw new RangeError("concurrency and batchSize must be at least 1");
  }

  /** Deliveries being sent (or recorded) right now. */
  get busy(): number {
    return this.inFlight;
  }

  /** How many deliveries the next claim asks for: the free slots, at most a batch (0: wait for a slot). */
  claimSize(): number {
    return Math.max(0, Math.min(this.concurrency - this.inFlight, this.batchSize));
  }

  /**
   * A claim that asked for `asked` returned `got`, which are now in flight. Claim again at once when it was full
   * (more may be due) and slots are left; otherwise sleep until a NOTIFY, a wake-up, a free slot or the idle poll.
   */
  claimed(asked: number, got: number): "claim-again" | "sleep" {
    this.inFlight += got;
    return got > 0 && got === asked && this.inFlight < this.concurrency ? "claim-again" : "sleep";
  }

  /** The loop goes to sleep; when every slot is taken, a finished delivery may wake it (see {@link finished}). */
  sleeping(): void {
    this.asleepForCapacity = this.inFlight >= this.concurrency;
  }

  /** The loop woke up. */
  awake(): void {
    this.asleepForCapacity = false;
  }

  /** A delivery in flight finished. True when this should wake the loop: it sleeps for want of a slot, and enough are free. */
  finished(): boolean {
    if (this.inFlight <= 0) throw new Error("a delivery finished that was not in flight");
    this.inFlight -= 1;
    return this.asleepForCapacity && this.inFlight <= this.concurrency * WAKE_AT_BUSY_SHARE;
  }

  /** A look at the database failed for want of a database: how long to wait, and whether this outage is new (log it). */
  outage(): { waitMs: number; first: boolean } {
    const first = this.outageFailures === 0;
    this.outageFailures += 1;
    return {
      waitMs: backoffMs(this.outageFailures - 1, { baseMs: OUTAGE_BACKOFF_MS, capMs: OUTAGE_BACKOFF_CAP_MS }),
      first,
    };
  }

  /** The database answered. Returns how many looks failed before (0 when there was no outage), and forgets them. */
  answered(): number {
    const failed = this.outageFailures;
    this.outageFailures = 0;
    return failed;
  }
}
