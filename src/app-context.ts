import type { Config, ExternalJwtConfig } from "./config.js";
import { type Database, openDatabase } from "./db/database.js";
import { type MigrateResult, migrate } from "./db/migrator.js";
import { connectPrisma, disconnectPrisma } from "./db/prisma.js";
import { type SubscriptionHub, startSubscriptionHub } from "./db/pubsub.js";
import { backfillSecretMasks } from "./db/secret-masks.js";
import type { ContextServices } from "./graphql/context.js";
import { MetricsServer } from "./http/metrics-server.js";
import { allJobs } from "./jobs/index.js";
import { type JobQueue, startJobQueue } from "./jobs/kit/queue.js";
import { createOutboundClient, type OutboundClient, type Resolver } from "./lib/http-client.js";
import { type Keyring, resolveKeyring } from "./lib/master-key.js";
import { PublicUrls } from "./lib/public-url.js";
import type { Logger } from "./logger.js";
import { AgentSecretCache } from "./modules/agents/inbound.js";
import { Authenticator } from "./modules/auth/authenticate.js";
import { type ConsoleFeed, startConsoleFeed } from "./modules/console/console-feed.js";
import { EndpointCredentialCache } from "./modules/deliveries/delivery-sender.js";
import { DELIVERY_WAKE_QUEUE } from "./modules/deliveries/delivery-wake-ups.js";
import { DeliveryDispatcher } from "./modules/deliveries/dispatcher.js";
import { prepareDeliveryQueue } from "./modules/deliveries/prepare-delivery-queue.js";
import { sealLegacyEndpointHeaders } from "./modules/endpoints/endpoint-headers.js";
import { OutboundRules } from "./modules/endpoints/outbound-rules.js";
import { DEFAULT_RETRY_DELAYS } from "./modules/endpoints/retry-policy.js";
import { type LiveSettings, type MetricsListener, startLiveSettings } from "./modules/settings/live-settings.js";
import type { InstanceSettings } from "./modules/settings/settings.service.js";

/**
 * What every part of a process reads of its instance, built by {@link createInstance} (once per server process, in
 * {@link createAppContext}; the test harness builds one per test file) and handed to each part instead of kept in
 * module variables. The GraphQL context's services carry it too (each field is declared there by its domain).
 */
export interface Instance {
  /** The master keyring: secrets are sealed under its current key and opened with the key they name. */
  keyring: Keyring;
  /** Credentials to viewers, and session tokens (with the same keyring). */
  authenticator: Authenticator;
  /** URL rules, the default retry schedule and the auto-disable window, as the live settings move them. */
  outboundRules: OutboundRules;
  /** Where this instance is reached, as the live settings set it. */
  urls: PublicUrls;
  /** The environment's instance settings, in force wherever nobody has stored a value. */
  instanceDefaults: InstanceSettings;
  /** Endpoints' signing secrets and header values, opened with this keyring. */
  endpointCredentials: EndpointCredentialCache;
  /** Agents' signing secrets, opened with this keyring, for inbound verification. */
  agentSecrets: AgentSecretCache;
}

/** The instance settings' built-in values, for every one neither the environment nor an operator has set. */
const BUILT_IN_INSTANCE_SETTINGS: InstanceSettings = {
  metricsEnabled: true,
  metricsPort: 9100,
  publicUrl: null,
  allowInsecureUrls: false,
  allowedPrivateRanges: [],
  defaultRetryDelays: [...DEFAULT_RETRY_DELAYS],
};

/** The instance and the services started on it, as resolvers get them in `context.services`. */
export type AppServices = ContextServices & Instance;

/** An endpoint failing continuously for this long is disabled, unless the environment says otherwise. */
const DEFAULT_AUTO_DISABLE_AFTER_MS = 5 * 24 * 3_600_000;

/**
 * Builds an {@link Instance}. The outbound rules start from the instance settings' defaults (built-in values under
 * the environment's), which the live settings then replace with the stored ones.
 */
export function createInstance(options: {
  keyring: Keyring;
  authentication: { sessionTtlSeconds: number; externalJwt?: ExternalJwtConfig };
  instanceDefaults?: Partial<InstanceSettings>;
  autoDisableAfterMs?: number;
}): Instance {
  const { keyring } = options;
  const instanceDefaults = { ...BUILT_IN_INSTANCE_SETTINGS, ...options.instanceDefaults };
  return {
    keyring,
    authenticator: new Authenticator({ keyring, ...options.authentication }),
    outboundRules: new OutboundRules({
      allowInsecureUrls: instanceDefaults.allowInsecureUrls,
      allowedPrivateRanges: instanceDefaults.allowedPrivateRanges,
      defaultRetryDelays: instanceDefaults.defaultRetryDelays,
      autoDisableAfterMs: options.autoDisableAfterMs ?? DEFAULT_AUTO_DISABLE_AFTER_MS,
    }),
    urls: new PublicUrls(),
    instanceDefaults,
    endpointCredentials: new EndpointCredentialCache(keyring),
    agentSecrets: new AgentSecretCache(keyring),
  };
}

/**
 * The parts of a process to wire onto a migrated database whose Prisma client is connected. Each part is optional so
 * that the test harness starts only what a test file needs, through the same code and in the same order as a server
 * process (see {@link createAppContext}).
 */
export interface AppParts {
  databaseUrl: string;
  logger: Logger;
  /** The instance every part reads (see {@link createInstance}). */
  instance: Instance;
  /**
   * Subscriptions to events published by any process (LISTEN): API processes serve subscriptions. `true` or the
   * process's cap of live subscriptions (DEFAULT_MAX_SUBSCRIPTIONS for `true`).
   */
  subscriptions?: boolean | { maxSubscriptions: number };
  /** The console's live feed; its subscribers live on API processes. */
  consoleFeed?: boolean;
  /**
   * Authentication keeps the API-key rows it reads while it hears of their changes (LISTEN, see ApiKeyRows): API
   * processes authenticate every request.
   */
  apiKeyRows?: boolean;
  /** Stored instance settings over the instance's defaults, applied now and on every change. */
  settings?: {
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
  /** The instance with what started: the GraphQL servers' resolvers get them, and the HTTP server its part. */
  services: AppServices;
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
 * The one place that wires a process's services together, on the instance it is given, in the order that matters:
 * the listeners (the kept API-key rows, the subscription hub, the console feed), the instance settings (which move the instance's outbound
 * rules, retry schedule and URLs), the outbound client, the job queue and last the dispatcher, which needs the
 * client. A part that fails to start stops the ones before it.
 */
export async function wireApp(parts: AppParts): Promise<WiredApp> {
  const { databaseUrl, logger } = parts;
  const wired: Omit<WiredApp, "stop" | "services"> = {};
  const { instance } = parts;
  let dispatcherStarted = false;
  let keepsApiKeyRows = false;
  const stop = async (deadline: number, jobsDeadline = deadline) => {
    if (dispatcherStarted) await wired.dispatcher?.stop(deadline);
    await wired.jobs?.stop(Math.max(jobsDeadline - Date.now(), 100));
    await wired.outbound?.close();
    await wired.settings?.stop();
    await wired.consoleFeed?.stop();
    await wired.subscriptions?.stop();
    if (keepsApiKeyRows) await instance.authenticator.apiKeyRows.stop();
  };
  try {
    if (parts.apiKeyRows) {
      await instance.authenticator.apiKeyRows.listen(databaseUrl, logger);
      keepsApiKeyRows = true;
    }
    if (parts.subscriptions) {
      const cap = parts.subscriptions === true ? undefined : parts.subscriptions.maxSubscriptions;
      wired.subscriptions = await startSubscriptionHub(databaseUrl, logger, cap);
    }
    if (parts.consoleFeed) wired.consoleFeed = await startConsoleFeed(databaseUrl, logger);
    if (parts.settings) {
      wired.settings = await startLiveSettings({
        databaseUrl,
        logger,
        defaults: instance.instanceDefaults,
        outboundRules: instance.outboundRules,
        urls: instance.urls,
        ...parts.settings,
      });
    }
    if (parts.outbound) {
      wired.outbound = createOutboundClient({
        policy: () => instance.outboundRules.addressPolicy(),
        lookup: parts.outbound.lookup,
      });
    }
    if (parts.jobs) {
      wired.jobs = await startJobQueue(databaseUrl, allJobs, logger, {
        work: parts.jobs.work,
        supervise: parts.dispatcher !== undefined,
        queues: [DELIVERY_WAKE_QUEUE],
      });
    }
    if (parts.dispatcher) {
      if (!wired.outbound) throw new Error("the dispatcher needs the outbound client");
      if (!wired.jobs) throw new Error("the dispatcher needs the job queue");
      wired.dispatcher = new DeliveryDispatcher({
        databaseUrl,
        client: wired.outbound,
        outboundRules: instance.outboundRules,
        credentials: instance.endpointCredentials,
        jobs: wired.jobs.boss,
        logger,
        ...parts.dispatcher,
      });
      if (parts.dispatcher.start !== false) {
        await wired.dispatcher.start();
        dispatcherStarted = true;
      }
    }
    const services: AppServices = {
      ...instance,
      subscriptions: wired.subscriptions,
      consoleFeed: wired.consoleFeed,
      outbound: wired.outbound,
      metrics: wired.settings?.metrics,
    };
    return { ...wired, services, stop };
  } catch (error) {
    await stop(Date.now() + 2_000).catch((stopError: unknown) =>
      logger.error({ err: stopError }, "cleanup after a failed start failed"),
    );
    throw error;
  }
}

/** A server process's context: the database and everything {@link wireApp} started on it for its role. */
export interface AppContext extends WiredApp {
  database: Database;
  migration: MigrateResult;
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
  const instance = createInstance({
    keyring: await resolveKeyring(config),
    authentication: { sessionTtlSeconds: config.sessionTtlSeconds, externalJwt: config.externalJwt },
    instanceDefaults: {
      metricsEnabled: config.metricsEnabled,
      metricsPort: config.metricsPort,
      publicUrl: config.publicUrl ?? null,
      allowInsecureUrls: config.allowInsecureUrls,
      allowedPrivateRanges: config.allowedPrivateRanges,
    },
    autoDisableAfterMs: config.autoDisableAfterHours * 3_600_000,
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
    // pg-boss's schema and the delivery wake-up queue, before anything can publish (producers insert jobs themselves).
    await prepareDeliveryQueue(database.url);
    // Header values stored in plaintext before encryption at rest (SQL could not seal them): seal them now.
    await sealLegacyEndpointHeaders(instance.keyring, logger);
    // Masks of secrets stored before listings read them from a column (SQL could not compute them): store them now.
    await backfillSecretMasks(instance.keyring, logger);
    const wired = await wireApp({
      databaseUrl: database.url,
      logger,
      instance,
      subscriptions: role !== "worker" && { maxSubscriptions: config.maxSubscriptions },
      consoleFeed: role !== "worker",
      apiKeyRows: role !== "worker",
      settings: {
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
