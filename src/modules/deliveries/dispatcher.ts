import type PgBoss from "pg-boss";
import { ChannelListener, DELIVERIES_CHANNEL } from "../../db/listen.js";
import { wakeSoon } from "../../db/notify.js";
import { prisma } from "../../db/prisma.js";
import { isDatabaseUnavailable } from "../../db/unavailable.js";
import type { OutboundClient } from "../../lib/http-client.js";
import type { Logger } from "../../logger.js";
import type { OutboundRules } from "../endpoints/outbound-rules.js";
import { decideOutcome } from "./delivery-outcome.js";
import { type EndpointCredentialCache, sendWebhook } from "./delivery-sender.js";
import { type AttemptRecord, claimDueDeliveries, type DeliveryWork, recordAttempts } from "./delivery-store.js";
import { DELIVERY_WAKE_QUEUE } from "./delivery-wake-ups.js";
import { DispatchBook } from "./dispatch-book.js";
import { applyEndpointConsequences } from "./endpoint-consequences.js";

/** What the dispatcher asks of pg-boss: to be handed the wake-ups of deliveries falling due (delivery-wake-ups.ts). */
export type DeliveryWakeUps = Pick<PgBoss, "work" | "offWork">;

export interface DispatcherOptions {
  databaseUrl: string;
  /** pg-boss, whose wake-up jobs say when deliveries scheduled for later fall due. */
  jobs: DeliveryWakeUps;
  client: OutboundClient;
  /** The instance's outbound rules: default retry schedule and auto-disable window, as the live settings move them. */
  outboundRules: OutboundRules;
  /** Endpoints' decrypted signing secrets and header values (the app context's cache, opened with its keyring). */
  credentials: EndpointCredentialCache;
  logger: Logger;
  /** Deliveries in flight at once (bounded so one slow receiver cannot exhaust sockets or memory). */
  concurrency: number;
  /** Deliveries claimed at most per statement. */
  batchSize?: number;
  /**
   * Longest idle wait between claims when no NOTIFY or wake-up arrives: the safety net for a lost wake-up and for the
   * lease of a worker that died running out.
   */
  pollIntervalMs?: number;
  /** Added to each endpoint's timeout to lease a claimed delivery (see DEFAULT_LEASE_GRACE_MS). */
  leaseGraceMs?: number;
}

const RECORD_BATCH = 500;
/** How often pg-boss looks for wake-ups that have started: they are late by at most this (pg-boss's least). */
const WAKE_UP_POLL_SECONDS = 0.5;

/**
 * The worker's delivery loop over the one ledger, the Delivery rows: it claims due deliveries in batches (one
 * statement leases them and reads what the sends need), sends them concurrently within the bound, records the results
 * in batches (one statement per batch), and sleeps until a NOTIFY (a publish, a recovery, a wake-up fetched by any
 * worker), a free slot, or the idle poll. The arithmetic of slots and backoff is {@link DispatchBook}'s.
 *
 * A delivery is claimed by exactly one worker at a time (SKIP LOCKED, then a lease in the row), so any number of
 * dispatchers can run; one that dies leaves its leases to run out, and its deliveries are sent again with the same
 * webhook-id.
 */
export class DeliveryDispatcher {
  private running = false;
  private finished: AttemptRecord[] = [];
  private flushing: Promise<void> | undefined;
  private loopDone: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private signalled = false;
  /** Set by stop(): recording attempts keeps retrying through an outage until then. */
  private stopDeadline = Number.POSITIVE_INFINITY;
  private wakeUpWorker: string | undefined;
  private readonly book: DispatchBook;
  private readonly listener: ChannelListener;
  private readonly pollIntervalMs: number;

  constructor(private readonly options: DispatcherOptions) {
    this.book = new DispatchBook(options.concurrency, options.batchSize ?? 50);
    this.pollIntervalMs = options.pollIntervalMs ?? 5_000;
    // After a reconnect, publishes notified in the gap were missed: look at once.
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
    // A wake-up fetched here wakes every dispatcher (the NOTIFY), not only this one: due deliveries may be more than
    // this worker's slots. A start that fails here closes the listener it opened.
    this.wakeUpWorker = await this.startWakeUpWorker().catch(async (error: unknown) => {
      await this.listener.stop();
      throw error;
    });
    this.running = true;
    this.loopDone = this.loop();
  }

  private startWakeUpWorker(): Promise<string> {
    return this.options.jobs.work(
      DELIVERY_WAKE_QUEUE.name,
      { batchSize: 100, pollingIntervalSeconds: WAKE_UP_POLL_SECONDS },
      async () => {
        this.signal();
        wakeSoon(DELIVERIES_CHANNEL);
      },
    );
  }

  /**
   * Stops claiming, lets in-flight deliveries finish until the deadline and records them. Deliveries still unfinished
   * then are left leased: they are sent again (same webhook-id) when their lease runs out.
   */
  async stop(deadline: number): Promise<void> {
    this.running = false;
    this.stopDeadline = deadline;
    this.signal();
    if (this.wakeUpWorker) {
      await this.options.jobs
        .offWork({ id: this.wakeUpWorker })
        .catch((error: unknown) => this.options.logger.warn({ err: error }, "could not stop the wake-up worker"));
    }
    await this.loopDone;
    while (this.book.busy > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.flush();
    await this.listener.stop();
  }

  /** Wakes the loop (a publish was notified, a wake-up fetched, or capacity freed up). */
  signal(): void {
    this.signalled = true;
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const asked = this.book.claimSize();
      let claimed: DeliveryWork[] = [];
      if (asked > 0) {
        try {
          claimed = await claimDueDeliveries(asked, this.options.leaseGraceMs);
          this.databaseAnswered();
        } catch (error) {
          if (isDatabaseUnavailable(error)) {
            await this.sleep(this.outageWaitMs());
            continue;
          }
          this.options.logger.error({ err: error }, "claiming deliveries failed");
          await this.sleep(this.pollIntervalMs);
          continue;
        }
      }
      const next = this.book.claimed(asked, claimed.length);
      // What was claimed is leased now: send it before anything else can fail.
      for (const work of claimed) this.launch(work);
      if (next === "claim-again") continue;
      this.book.sleeping();
      await this.sleep(this.pollIntervalMs);
      this.book.awake();
    }
  }

  private outageWaitMs(): number {
    const { waitMs, first } = this.book.outage();
    if (first) this.options.logger.warn("the database is unavailable; deliveries wait and resume when it is back");
    return waitMs;
  }

  private databaseAnswered(): void {
    const failedLooks = this.book.answered();
    if (failedLooks > 0) this.options.logger.info({ failedLooks }, "the database is back; deliveries resume");
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
    this.attempt(work)
      .then((record) => {
        if (!record) return;
        this.finished.push(record);
        void this.flush();
      })
      .catch((error: unknown) => {
        // Left SENDING: once the lease has run out another attempt follows, with the same webhook-id.
        this.options.logger.error(
          { err: error, deliveryId: work.deliveryId },
          "delivery attempt could not be completed",
        );
      })
      .finally(() => {
        if (this.book.finished()) this.signal();
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
    const credentials = await this.options.credentials.credentialsFor(work.endpoint.id, work.endpoint.updatedAt);
    const result = await sendWebhook(this.options.client, work, credentials);
    const outcome = decideOutcome(result, this.options.outboundRules.effectiveDelays(work.endpoint), work.retryIndex);
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
            await new Promise((resolve) => setTimeout(resolve, this.outageWaitMs()));
            continue;
          }
          this.options.logger.error({ err: error, count: batch.length }, "recording delivery attempts failed");
          continue;
        }
        try {
          await applyEndpointConsequences(
            batch,
            this.options.outboundRules.settings.autoDisableAfterMs,
            this.options.logger,
          );
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
