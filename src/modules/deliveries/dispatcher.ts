import { ChannelListener, DELIVERIES_CHANNEL } from "../../db/listen.js";
import { pool, prisma } from "../../db/prisma.js";
import { isDatabaseUnavailable } from "../../db/unavailable.js";
import { backoffMs } from "../../lib/backoff.js";
import type { OutboundClient } from "../../lib/http-client.js";
import type { Logger } from "../../logger.js";
import { decideOutcome } from "./delivery-outcome.js";
import { EndpointCredentialCache, sendWebhook } from "./delivery-sender.js";
import { type AttemptRecord, claimDueDeliveries, type DeliveryWork, recordAttempts } from "./delivery-store.js";
import { applyEndpointConsequences } from "./endpoint-consequences.js";

export interface DispatcherOptions {
  databaseUrl: string;
  client: OutboundClient;
  logger: Logger;
  /** Deliveries in flight at once (bounded so one slow receiver cannot exhaust sockets or memory). */
  concurrency: number;
  /** Rows claimed per query. */
  batchSize?: number;
  /** Longest idle wait between looks at the queue when no NOTIFY arrives. */
  pollIntervalMs?: number;
  /** Added to each endpoint's timeout to lease a claimed delivery (see DEFAULT_LEASE_GRACE_MS). */
  leaseGraceMs?: number;
}

const RECORD_BATCH = 500;
/** While the database is unavailable the loop backs off from this, doubling, up to the cap. */
const OUTAGE_BACKOFF_MS = 250;
const OUTAGE_BACKOFF_CAP_MS = 5_000;

/**
 * The worker's delivery loop: claims due deliveries in batches, sends them concurrently within a bound, records the
 * results in batches, and sleeps until a NOTIFY (a publish), a free slot, or the next retry falls due.
 */
export class DeliveryDispatcher {
  private running = false;
  private inFlight = 0;
  private finished: AttemptRecord[] = [];
  private flushing: Promise<void> | undefined;
  private loopDone: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private signalled = false;
  /** The loop is asleep because every slot was taken (not because nothing was due). */
  private waitingForCapacity = false;
  private readonly credentials = new EndpointCredentialCache();
  /** Consecutive failures for want of a database (0 when it answers); logged once per outage. */
  private outageFailures = 0;
  /** Set by stop(): recording attempts keeps retrying through an outage until then. */
  private stopDeadline = Number.POSITIVE_INFINITY;
  private readonly listener: ChannelListener;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;

  constructor(private readonly options: DispatcherOptions) {
    this.batchSize = options.batchSize ?? 200;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    // After a reconnect, publishes notified in the gap were missed: look at the queue at once.
    this.listener = new ChannelListener(
      options.databaseUrl,
      DELIVERIES_CHANNEL,
      () => this.signal(),
      options.logger,
      () => this.signal(),
    );
  }

  async start(): Promise<void> {
    await this.listener.start();
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Stops claiming, lets in-flight deliveries finish until the deadline and records them. Unfinished ones come back when their lease runs out. */
  async stop(deadline: number): Promise<void> {
    this.running = false;
    this.stopDeadline = deadline;
    this.signal();
    await this.loopDone;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.flush();
    await this.listener.stop();
  }

  /** Wakes the loop (a publish was notified, or capacity freed up). */
  signal(): void {
    this.signalled = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const capacity = this.options.concurrency - this.inFlight;
      let claimed: DeliveryWork[] = [];
      if (capacity > 0) {
        try {
          claimed = await claimDueDeliveries(Math.min(capacity, this.batchSize), this.options.leaseGraceMs);
          this.databaseAnswered();
        } catch (error) {
          if (isDatabaseUnavailable(error)) {
            await this.sleep(this.outageBackoffMs());
            continue;
          }
          this.options.logger.error({ err: error }, "claiming deliveries failed");
          await this.sleep(this.pollIntervalMs);
          continue;
        }
        for (const work of claimed) this.launch(work);
      }
      // A full batch means more may be waiting: look again at once.
      if (claimed.length > 0 && claimed.length === Math.min(capacity, this.batchSize)) continue;
      this.waitingForCapacity = capacity <= 0;
      await this.sleep(claimed.length > 0 || capacity <= 0 ? this.pollIntervalMs : await this.idleWaitMs());
      this.waitingForCapacity = false;
    }
  }

  /** Notes a failure for want of a database and says how long to wait before the next look (backing off). */
  private outageBackoffMs(): number {
    if (this.outageFailures === 0)
      this.options.logger.warn("the database is unavailable; deliveries wait and resume when it is back");
    this.outageFailures += 1;
    return backoffMs(this.outageFailures - 1, { baseMs: OUTAGE_BACKOFF_MS, capMs: OUTAGE_BACKOFF_CAP_MS });
  }

  private databaseAnswered(): void {
    if (this.outageFailures === 0) return;
    this.options.logger.info({ failedLooks: this.outageFailures }, "the database is back; deliveries resume");
    this.outageFailures = 0;
  }

  /** How long to sleep when nothing is due: until the next retry falls due, at most the poll interval. */
  private async idleWaitMs(): Promise<number> {
    const { rows } = await pool
      .query<{ due: Date | null }>(`SELECT min("dueAt") AS due FROM "Delivery" WHERE status IN ('PENDING', 'SENDING')`)
      .catch(() => ({ rows: [{ due: null }] }));
    const [next] = rows;
    if (!next?.due) return this.pollIntervalMs;
    return Math.max(0, Math.min(this.pollIntervalMs, next.due.getTime() - Date.now()));
  }

  private async sleep(ms: number): Promise<void> {
    if (this.signalled || !this.running) {
      this.signalled = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
    this.signalled = false;
  }

  private launch(work: DeliveryWork): void {
    this.inFlight += 1;
    this.attempt(work)
      .then((record) => {
        if (!record) return;
        this.finished.push(record);
        void this.flush();
      })
      .catch((error: unknown) => {
        // Left SENDING: the lease runs out and another attempt follows, with the same webhook-id.
        this.options.logger.error(
          { err: error, deliveryId: work.deliveryId },
          "delivery attempt could not be completed",
        );
      })
      .finally(() => {
        this.inFlight -= 1;
        // Only a loop that stopped claiming for want of a free slot needs waking; waking it after every delivery
        // would cost an empty claim and a look at the next due time each, which at low rates was most of the work.
        if (this.waitingForCapacity && this.inFlight <= this.options.concurrency * 0.75) this.signal();
      });
  }

  private async attempt(work: DeliveryWork): Promise<AttemptRecord | null> {
    if (!work.endpoint.enabled) {
      // Disabled between the claim's snapshot and now (disabling fails waiting deliveries, so this is a race).
      await prisma.delivery.update({
        where: { id: work.deliveryId },
        data: { status: "FAILED", failureReason: "endpoint_disabled", completedAt: new Date() },
      });
      return null;
    }
    const credentials = await this.credentials.credentialsFor(work.endpoint.id, work.endpoint.updatedAt);
    const result = await sendWebhook(this.options.client, work, credentials);
    const outcome = decideOutcome(result, work.endpoint.retryDelays, work.retryIndex);
    this.options.logger.debug(
      {
        deliveryId: work.deliveryId,
        endpointId: work.endpoint.id,
        attempt: work.attemptCount + 1,
        status: result.statusCode,
        durationMs: result.durationMs,
        outcome: outcome.kind,
      },
      "delivery attempt",
    );
    return { work, trigger: "SCHEDULED", result, outcome, finishedAt: new Date() };
  }

  /** Records finished attempts in batches, one flush at a time; then applies endpoint consequences. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = (async () => {
      while (this.finished.length > 0) {
        const batch = this.finished.splice(0, RECORD_BATCH);
        try {
          await recordAttempts(batch);
        } catch (error) {
          // Sent but not yet recorded: keep the results and record them when the database is back, so that an
          // outage does not turn every in-flight delivery into a duplicate. Past the stop deadline they are let go;
          // their leases run out and they are sent again, with the same webhook-id.
          if (isDatabaseUnavailable(error) && Date.now() < this.stopDeadline) {
            this.finished.unshift(...batch);
            await new Promise((resolve) => setTimeout(resolve, this.outageBackoffMs()));
            continue;
          }
          this.options.logger.error({ err: error, count: batch.length }, "recording delivery attempts failed");
          continue;
        }
        try {
          await applyEndpointConsequences(batch, this.options.logger);
        } catch (error) {
          this.options.logger.error({ err: error, count: batch.length }, "applying endpoint consequences failed");
        }
      }
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }
}
