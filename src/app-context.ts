import type { Config, ExternalJwtConfig } from "./config.js";
import { type Database, openDatabase } from "./db/database.js";
import { type MigrateResult, migrate } from "./db/migrator.js";
import { connectPrisma, disconnectPrisma } from "./db/prisma.js";
import { type SubscriptionHub, startSubscriptionHub } from "./db/pubsub.js";
import { backfillSecretMasks } from "./db/secret-masks.js";
import { MetricsServer } from "./http/metrics-server.js";
import { allJobs } from "./jobs/index.js";
import { type JobQueue, startJobQueue } from "./jobs/kit/queue.js";
import { createOutboundClient, type OutboundClient, type Resolver } from "./lib/http-client.js";
import { type Keyring, resolveKeyring, useKeyring } from "./lib/master-key.js";
import type { Logger } from "./logger.js";
import { configureAuthentication } from "./modules/auth/authenticate.js";
import { type ConsoleFeed, startConsoleFeed } from "./modules/console/console-feed.js";
import { DELIVERY_QUEUE } from "./modules/deliveries/delivery-jobs.js";
import { DeliveryDispatcher } from "./modules/deliveries/dispatcher.js";
import { prepareDeliveryQueue } from "./modules/deliveries/prepare-delivery-queue.js";
import { sealLegacyEndpointHeaders } from "./modules/endpoints/endpoint-headers.js";
import { addressPolicy, configureOutbound, type OutboundSettings } from "./modules/endpoints/outbound-settings.js";
import { DEFAULT_RETRY_DELAYS } from "./modules/endpoints/retry-policy.js";
import { type LiveSettings, type MetricsListener, startLiveSettings } from "./modules/settings/live-settings.js";
import { configureInstanceDefaults, type InstanceSettings } from "./modules/settings/settings.service.js";

/**
 * The parts of a process to wire onto a migrated database whose Prisma client is connected. Each part is optional so
 * that the test harness starts only what a test file needs, through the same code and in the same order as a server
 * process (see {@link createAppContext}).
 */
export interface AppParts {
  databaseUrl: string;
  logger: Logger;
  /** The master keyring every sealed secret and session signature uses. */
  keyring?: Keyring;
  authentication?: { sessionTtlSeconds: number; externalJwt?: ExternalJwtConfig };
  /** The start-up outbound rules (live settings change them later). */
  outboundSettings?: Partial<OutboundSettings>;
  /** Subscriptions to events published by any process (LISTEN): API processes serve subscriptions. */
  subscriptions?: boolean;
  /** The console's live feed; its subscribers live on API processes. */
  consoleFeed?: boolean;
  /** Stored instance settings over these defaults, applied now and on every change. */
  settings?: {
    defaults: InstanceSettings;
    metrics: MetricsListener;
    localUrl: () => string;
    selfUrl: () => string | undefined;
  };
  /** The outbound HTTP client (workers deliver, the API sends test events and manual retries). */
  outbound?: { lookup?: Resolver };
  /**
   * pg-boss: every role enqueues, `work` attaches the job workers; the delivery queue is created with it and its
   * maintenance runs wherever workers or the dispatcher do.
   */
  jobs?: { work: boolean };
  /** The delivery dispatcher (needs `outbound`); `start: false` builds it without starting its loop. */
  dispatcher?: {
    concurrency: number;
    leaseGraceMs?: number;
    pollIntervalMs?: number;
    start?: boolean;
  };
}

/** What {@link wireApp} started, each present when its part was asked for. */
export interface WiredApp {
  subscriptions?: SubscriptionHub;
  consoleFeed?: ConsoleFeed;
  settings?: LiveSettings;
  outbound?: OutboundClient;
  jobs?: JobQueue;
  dispatcher?: DeliveryDispatcher;
  /**
   * Stops what started, in reverse order: the dispatcher by `deadline` (epoch ms), the job queue within what is left
   * of `jobsDeadline`, then the clients and listeners.
   */
  stop(deadline: number, jobsDeadline?: number): Promise<void>;
}

/**
 * The one place that wires a process's services together, in the order that matters: configuration first (keyring,
 * authentication, outbound rules), then the listeners (the subscription hub, the console feed),
 * the instance settings (which move the outbound rules and the retry schedule), the outbound client, the job queue
 * and last the dispatcher, which needs the client. A part that fails to start stops the ones before it.
 */
export async function wireApp(parts: AppParts): Promise<WiredApp> {
  const { databaseUrl, logger } = parts;
  const wired: Omit<WiredApp, "stop"> = {};
  let dispatcherStarted = false;
  const stop = async (deadline: number, jobsDeadline = deadline) => {
    if (dispatcherStarted) await wired.dispatcher?.stop(deadline);
    await wired.jobs?.stop(Math.max(jobsDeadline - Date.now(), 100));
    await wired.outbound?.close();
    await wired.settings?.stop();
    await wired.consoleFeed?.stop();
    await wired.subscriptions?.stop();
  };
  try {
    configure(parts);
    if (parts.subscriptions) wired.subscriptions = await startSubscriptionHub(databaseUrl, logger);
    if (parts.consoleFeed) wired.consoleFeed = await startConsoleFeed(databaseUrl, logger);
    if (parts.settings) {
      configureInstanceDefaults(parts.settings.defaults);
      wired.settings = await startLiveSettings({ databaseUrl, logger, ...parts.settings });
    }
    if (parts.outbound) {
      wired.outbound = createOutboundClient({ policy: addressPolicy, lookup: parts.outbound.lookup });
    }
    if (parts.jobs) {
      wired.jobs = await startJobQueue(databaseUrl, allJobs, logger, {
        work: parts.jobs.work,
        supervise: parts.dispatcher !== undefined,
        queues: [DELIVERY_QUEUE],
      });
    }
    if (parts.dispatcher) {
      if (!wired.outbound) throw new Error("the dispatcher needs the outbound client");
      if (!wired.jobs) throw new Error("the dispatcher needs the job queue");
      wired.dispatcher = new DeliveryDispatcher({
        databaseUrl,
        client: wired.outbound,
        jobs: wired.jobs.boss,
        logger,
        ...parts.dispatcher,
      });
      if (parts.dispatcher.start !== false) {
        await wired.dispatcher.start();
        dispatcherStarted = true;
      }
    }
    return { ...wired, stop };
  } catch (error) {
    await stop(Date.now() + 2_000).catch((stopError: unknown) =>
      logger.error({ err: stopError }, "cleanup after a failed start failed"),
    );
    throw error;
  }
}

/** The synchronous configuration of {@link AppParts}: installed before anything connects. */
function configure(parts: Pick<AppParts, "keyring" | "authentication" | "outboundSettings">): void {
  if (parts.keyring) useKeyring(parts.keyring);
  if (parts.authentication) configureAuthentication(parts.authentication);
  if (parts.outboundSettings) configureOutbound(parts.outboundSettings);
}

/** A server process's context: the database and everything {@link wireApp} started on it for its role. */
export interface AppContext extends WiredApp {
  database: Database;
  migration: MigrateResult;
  keyring: Keyring;
  /** Stops what started (see {@link WiredApp.stop}), then Prisma and the database. */
  stop(deadline: number, jobsDeadline?: number): Promise<void>;
}

/**
 * Builds a server process's context once, for its role: the keyring (before anything starts: a missing master key
 * with a shared database is a configuration error), the database (embedded unless DATABASE_URL) migrated under an
 * advisory lock, Prisma, the start-up repairs of older rows, then {@link wireApp} with the parts the role runs.
 * `port` is read when the settings apply, so links can use the port the listener bound later.
 */
export async function createAppContext(
  config: Config,
  role: "all" | "api" | "worker",
  logger: Logger,
  port: () => number | undefined,
): Promise<AppContext> {
  const keyring = await resolveKeyring(config);
  const outboundSettings = {
    allowInsecureUrls: config.allowInsecureUrls,
    allowedPrivateRanges: config.allowedPrivateRanges,
    autoDisableAfterMs: config.autoDisableAfterHours * 3_600_000,
  };
  configure({
    keyring,
    authentication: { sessionTtlSeconds: config.sessionTtlSeconds, externalJwt: config.externalJwt },
    outboundSettings,
  });
  const database = await openDatabase(config, logger);
  const closeDatabase = async () => {
    await disconnectPrisma();
    await database.close();
  };
  try {
    const migration = await migrate(database.url, logger);
    if (migration.applied.length) logger.info({ applied: migration.applied }, "database migrated");
    connectPrisma(database.url);
    // pg-boss's schema and the delivery queue, before anything can publish (producers insert jobs themselves).
    await prepareDeliveryQueue(database.url, logger);
    // Header values stored in plaintext before encryption at rest (SQL could not seal them): seal them now.
    await sealLegacyEndpointHeaders(logger);
    // Masks of secrets stored before listings read them from a column (SQL could not compute them): store them now.
    await backfillSecretMasks(logger);
    const wired = await wireApp({
      databaseUrl: database.url,
      logger,
      subscriptions: role !== "worker",
      consoleFeed: role !== "worker",
      settings: {
        defaults: {
          metricsEnabled: config.metricsEnabled,
          metricsPort: config.metricsPort,
          publicUrl: config.publicUrl ?? null,
          allowInsecureUrls: config.allowInsecureUrls,
          allowedPrivateRanges: config.allowedPrivateRanges,
          defaultRetryDelays: [...DEFAULT_RETRY_DELAYS],
        },
        metrics: new MetricsServer(config.host, logger),
        // Without a public URL, links use the port actually bound (PORT=0 picks one): read when applied.
        localUrl: () => `http://localhost:${port() ?? config.port}`,
        selfUrl: () => {
          const bound = port();
          return bound === undefined ? undefined : `http://127.0.0.1:${bound}`;
        },
      },
      outbound: {},
      // The API enqueues (agent executions); only workers work the queue.
      jobs: { work: role !== "api" },
      dispatcher:
        role === "api"
          ? undefined
          : { concurrency: config.deliveryConcurrency, leaseGraceMs: config.deliveryLeaseGraceMs },
    });
    return {
      ...wired,
      database,
      migration,
      keyring,
      stop: async (deadline, jobsDeadline) => {
        await wired.stop(deadline, jobsDeadline);
        await closeDatabase();
      },
    };
  } catch (error) {
    await closeDatabase().catch((stopError: unknown) =>
      logger.error({ err: stopError }, "cleanup after a failed start failed"),
    );
    throw error;
  }
}
