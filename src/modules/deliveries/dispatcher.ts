import type PgBoss from "pg-boss";
import { ChannelListener, DELIVERIES_CHANNEL } from "../../db/listen.js";
import { pool, prisma } from "../../db/prisma.js";
import { isDatabaseUnavailable } from "../../db/unavailable.js";
import { backoffMs } from "../../lib/backoff.js";
import type { OutboundClient } from "../../lib/http-client.js";
import type { Logger } from "../../logger.js";
import type { OutboundRules } from "../endpoints/outbound-rules.js";
import { DELIVERY_QUEUE, deliveryJobData, scheduleDeliveries } from "./delivery-jobs.js";
import { decideOutcome } from "./delivery-outcome.js";
import { type EndpointCredentialCache, sendWebhook } from "./delivery-sender.js";
import {
  type AttemptRecord,
  claimDeliveries,
  type DeliveryWork,
  recordAttempts,
  stillWaiting,
} from "./delivery-store.js";
import { applyEndpointConsequences } from "./endpoint-consequences.js";

/** What the dispatcher asks of pg-boss: the started instance of the app context's job queue. */
export type DeliveryJobSource = Pick<PgBoss, "fetch" | "complete" | "fail">;

export interface DispatcherOptions {
  databaseUrl: string;
  /** pg-boss, which schedules the deliveries (delivery-jobs.ts). */
  jobs: DeliveryJobSource;
  client: OutboundClient;
  /** The instance's outbound rules: default retry schedule and auto-disable window, as the live settings move them. */
  outboundRules: OutboundRules;
  /** Endpoints' decrypted signing secrets and header values (the app context's cache, opened with its keyring). */
  credentials: EndpointCredentialCache;
  logger: Logger;
  /** Deliveries in flight at once (bounded so one slow receiver cannot exhaust sockets or memory). */
  concurrency: number;
  /** Jobs fetched at most per look at the queue. */
  batchSize?: number;
  /** Longest idle wait between looks at the queue when no NOTIFY arrives (retries and scheduled sends fall due). */
  pollIntervalMs?: number;
  /** Added to each endpoint's timeout to lease a claimed delivery (see DEFAULT_LEASE_GRACE_MS). */
  leaseGraceMs?: number;
}

const RECORD_BATCH = 500;
/** While the database is unavailable the loop backs off from this, doubling, up to the cap. */
const OUTAGE_BACKOFF_MS = 250;
const OUTAGE_BACKOFF_CAP_MS = 5_000;

/** A fetched job in this worker's hands: the deliveries not yet claimed, and those not yet finished. */
interface HeldJob {
  id: string;
  unclaimed: string[];
  unfinished: Set<string>;
  /** An attempt of one of its deliveries could not be recorded: the job is failed (and retried), not completed. */
  broken: boolean;
}

/**
 * The worker's delivery loop. pg-boss schedules the work (delivery-jobs.ts): the loop fetches jobs while it has free
 * slots, claims their deliveries only as slots free up (so a claimed delivery's lease starts when it is about to be
 * sent), sends them concurrently within the bound, records the results in batches, and completes each job once all
 * its deliveries are recorded (in batches too). Ids a job could not claim (not due yet, leased by a live worker) are
 * scheduled again as new jobs. It sleeps until a NOTIFY (a publish), a free slot, or the poll interval (retries and
 * scheduled sends falling due).
 *
 * Not pg-boss's `work()`: its handler must finish a whole fetched batch before the next fetch, so one slow receiver
 * would hold up every delivery fetched with it (head-of-line blocking); fetching ourselves keeps every slot busy.
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
  /** Consecutive failures for want of a database (0 when it answers); logged once per outage. */
  private outageFailures = 0;
  /** Set by stop(): recording attempts keeps retrying through an outage until then. */
  private stopDeadline = Number.POSITIVE_INFINITY;
  private readonly listener: ChannelListener;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  /** Jobs fetched and not yet completed, in fetch order. */
  private readonly held = new Map<string, HeldJob>();
  /** Deliveries per job in the last fetch (1 for single publishes, up to 100 for batches and fan-out). */
  private deliveriesPerJob = 1;
  /** The job each claimed, unfinished delivery came from. */
  private readonly jobOfDelivery = new Map<string, HeldJob>();

  constructor(private readonly options: DispatcherOptions) {
    this.batchSize = options.batchSize ?? 50;
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

  /**
   * Stops fetching, lets in-flight deliveries finish until the deadline and records them, then hands the jobs still
   * held back to pg-boss (failed, so they are retried at once by any worker; deliveries still leased are then
   * scheduled again for when their lease runs out).
   */
  async stop(deadline: number): Promise<void> {
    this.running = false;
    this.stopDeadline = deadline;
    this.signal();
    await this.loopDone;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.flush();
    const unfinished = [...this.held.keys()];
    this.held.clear();
    if (unfinished.length) {
      await this.options.jobs
        .fail(DELIVERY_QUEUE.name, unfinished)
        .catch((error: unknown) => this.options.logger.warn({ err: error }, "could not hand back delivery jobs"));
    }
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
      let claimed = 0;
      let fetched = 0;
      if (capacity > 0) {
        try {
          if (this.unclaimedCount() < capacity) fetched = await this.fetchJobs(capacity);
          claimed = await this.claimFromHeldJobs(capacity);
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
      }
      // Work came in and slots are left: more may be waiting, look again at once.
      if ((claimed > 0 || fetched > 0) && this.inFlight < this.options.concurrency) continue;
      this.waitingForCapacity = this.inFlight >= this.options.concurrency;
      await this.sleep(this.pollIntervalMs);
      this.waitingForCapacity = false;
    }
  }

  private unclaimedCount(): number {
    let count = 0;
    for (const job of this.held.values()) count += job.unclaimed.length;
    return count;
  }

  /**
   * Fetches waiting jobs into this worker's hands, about as many as fill its free slots (judged by the size of the
   * jobs fetched last), so that held jobs are claimed well within their expiry; returns how many.
   */
  private async fetchJobs(capacity: number): Promise<number> {
    const wanted = Math.ceil(Math.max(capacity - this.unclaimedCount(), 1) / this.deliveriesPerJob);
    const batchSize = Math.min(this.batchSize, Math.max(wanted, 1));
    const jobs = await this.options.jobs.fetch<unknown>(DELIVERY_QUEUE.name, { batchSize });
    const malformed: string[] = [];
    let fetchedIds = 0;
    for (const job of jobs) {
      const data = deliveryJobData.safeParse(job.data);
      if (!data.success) {
        malformed.push(job.id);
        continue;
      }
      const ids = [...new Set(data.data.deliveryIds)];
      this.held.set(job.id, { id: job.id, unclaimed: ids, unfinished: new Set(ids), broken: false });
      fetchedIds += ids.length;
    }
    if (jobs.length > malformed.length) this.deliveriesPerJob = fetchedIds / (jobs.length - malformed.length);
    if (malformed.length) {
      this.options.logger.error({ jobs: malformed }, "delivery jobs without a list of deliveries were dropped");
      await this.options.jobs.complete(DELIVERY_QUEUE.name, malformed);
    }
    return jobs.length;
  }

  /**
   * Claims up to `capacity` of the held jobs' deliveries in one statement and launches them. Those that could not be
   * claimed are scheduled again (or dropped when finished), and jobs left with nothing unfinished are completed.
   */
  private async claimFromHeldJobs(capacity: number): Promise<number> {
    const taken: { id: string; job: HeldJob }[] = [];
    const takenIds = new Set<string>();
    for (const job of this.held.values()) {
      while (taken.length < capacity && job.unclaimed.length > 0) {
        const id = job.unclaimed.shift() as string;
        // Two held jobs can name one delivery (a job run again after expiring, say): the first takes it, the other
        // lets it go, or that job would wait for a delivery it does not hold.
        if (takenIds.has(id)) {
          job.unfinished.delete(id);
          continue;
        }
        takenIds.add(id);
        taken.push({ id, job });
      }
      if (taken.length >= capacity) break;
    }
    if (taken.length === 0) return 0;
    let claimed: DeliveryWork[];
    try {
      claimed = await claimDeliveries(
        taken.map((item) => item.id),
        this.options.leaseGraceMs,
      );
    } catch (error) {
      // Nothing was claimed (the database is away, say): the ids go back to their jobs for the next look.
      for (const item of [...taken].reverse()) item.job.unclaimed.unshift(item.id);
      throw error;
    }
    const jobOfTaken = new Map(taken.map((item) => [item.id, item.job]));
    const claimedIds = new Set(claimed.map((work) => work.deliveryId));
    const missed = taken.filter((item) => !claimedIds.has(item.id));
    // What was claimed is leased now: send it before anything else can fail.
    for (const work of claimed) {
      this.jobOfDelivery.set(work.deliveryId, jobOfTaken.get(work.deliveryId) as HeldJob);
      this.launch(work);
    }
    if (missed.length) {
      // Not due yet, leased by a live worker, locked, or finished: whatever still waits gets a job of its own.
      try {
        const waiting = await stillWaiting(missed.map((item) => item.id));
        await scheduleDeliveries(pool, waiting);
      } catch (error) {
        // Not scheduled: the ids go back to their jobs, to be claimed (or scheduled) at the next look.
        for (const item of [...missed].reverse()) item.job.unclaimed.unshift(item.id);
        throw error;
      }
      for (const item of missed) item.job.unfinished.delete(item.id);
    }
    await this.settleJobs();
    return claimed.length;
  }

  /** Completes (in one statement) the held jobs whose deliveries are all recorded; fails the broken ones. */
  private async settleJobs(): Promise<void> {
    const done: string[] = [];
    const broken: string[] = [];
    for (const job of this.held.values()) {
      if (job.unfinished.size > 0 || job.unclaimed.length > 0) continue;
      this.held.delete(job.id);
      (job.broken ? broken : done).push(job.id);
    }
    if (done.length) await this.options.jobs.complete(DELIVERY_QUEUE.name, done);
    if (broken.length) await this.options.jobs.fail(DELIVERY_QUEUE.name, broken);
  }

  /** A claimed delivery is finished (recorded, or given up for its lease to run out): its job may be done. */
  private finishDelivery(deliveryId: string, recorded: boolean): void {
    const job = this.jobOfDelivery.get(deliveryId);
    if (!job) return;
    this.jobOfDelivery.delete(deliveryId);
    job.unfinished.delete(deliveryId);
    if (!recorded) job.broken = true;
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
        if (!record) {
          this.finishDelivery(work.deliveryId, true);
          void this.settleJobsLogged();
          return;
        }
        this.finished.push(record);
        void this.flush();
      })
      .catch((error: unknown) => {
        // Left SENDING: its job is failed, pg-boss retries it, and once the lease has run out another attempt
        // follows, with the same webhook-id.
        this.finishDelivery(work.deliveryId, false);
        void this.settleJobsLogged();
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

  private async settleJobsLogged(): Promise<void> {
    // A job not completed here stays active until pg-boss expires it and runs it again, which finds its deliveries
    // finished: a little work, no duplicate.
    await this.settleJobs().catch((error: unknown) =>
      this.options.logger.warn({ err: error }, "completing delivery jobs failed"),
    );
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
          for (const record of batch) this.finishDelivery(record.work.deliveryId, false);
          await this.settleJobsLogged();
          continue;
        }
        for (const record of batch) this.finishDelivery(record.work.deliveryId, true);
        await this.settleJobsLogged();
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
