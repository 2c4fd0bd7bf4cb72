import type { Config } from "./config.js";
import { type Database, openDatabase } from "./db/database.js";
import { migrate } from "./db/migrator.js";
import { connectPrisma, disconnectPrisma } from "./db/prisma.js";
import { startPubSub, stopPubSub } from "./db/pubsub.js";
import { backfillSecretMasks } from "./db/secret-masks.js";
import { MetricsServer } from "./http/metrics-server.js";
import { readinessChecks } from "./http/readiness.js";
import { HttpServer } from "./http/server.js";
import { createGraphQLServer } from "./http/yoga.js";
import { allJobs } from "./jobs/index.js";
import { type JobQueue, startJobQueue } from "./jobs/kit/queue.js";
import { createOutboundClient, type OutboundClient } from "./lib/http-client.js";
import { masterKeyFile, resolveKeyring, useKeyring } from "./lib/master-key.js";
import { registerQueueGauges } from "./lib/metrics.js";
import { publicUrl as currentPublicUrl } from "./lib/public-url.js";
import type { Logger } from "./logger.js";
import { configureAuthentication } from "./modules/auth/authenticate.js";
import { startConsoleFeed, stopConsoleFeed } from "./modules/console/console-feed.js";
import { readQueueGauges } from "./modules/deliveries/delivery-store.js";
import { DeliveryDispatcher } from "./modules/deliveries/dispatcher.js";
import { useOutboundClient } from "./modules/deliveries/outbound-client.js";
import { sealLegacyEndpointHeaders } from "./modules/endpoints/endpoint-headers.js";
import { addressPolicy, configureOutbound } from "./modules/endpoints/outbound-settings.js";
import { DEFAULT_RETRY_DELAYS } from "./modules/endpoints/retry-policy.js";
import { type LiveSettings, startLiveSettings } from "./modules/settings/live-settings.js";
import { configureInstanceDefaults } from "./modules/settings/settings.service.js";
import { bootstrapFirstTenant } from "./modules/tenants/bootstrap.js";

/** `api` serves HTTP and WebSocket, `worker` runs jobs, `all` does both in one process. */
export const ROLES = ["all", "api", "worker"] as const;
export type Role = (typeof ROLES)[number];

/** A running Signalpost process. */
export interface App {
  role: Role;
  databaseUrl: string;
  /** The bound HTTP port (api and all roles). */
  port: number | undefined;
  /** Stops everything in order within `timeoutMs`: HTTP first, then jobs, then the database. */
  stop(timeoutMs?: number): Promise<void>;
  /** Resolves with the reason once the process cannot recover (the embedded PostgreSQL could not be restarted). */
  fatal: Promise<Error>;
}

/**
 * Starts one Signalpost process: the database (embedded unless DATABASE_URL), migrations (under an advisory lock),
 * then the job queue and workers (worker, all) and the HTTP listener (api, all). Whatever started is stopped again
 * when a later step fails, so a failed start leaves no PostgreSQL behind.
 */
export async function startApp(config: Config, role: Role, logger: Logger): Promise<App> {
  const started: {
    database?: Database;
    jobs?: JobQueue;
    http?: HttpServer;
    dispatcher?: DeliveryDispatcher;
    outbound?: OutboundClient;
    settings?: LiveSettings;
  } = {};
  const stop = async (timeoutMs = config.shutdownTimeoutMs) => {
    const begun = Date.now();
    // HTTP gets most of the budget to finish in-flight requests; jobs get what is left of it.
    await started.http?.close(begun + timeoutMs * 0.6);
    await started.dispatcher?.stop(begun + timeoutMs * 0.8);
    await started.jobs?.stop(Math.max(begun + timeoutMs * 0.9 - Date.now(), 100));
    await started.outbound?.close();
    await started.settings?.stop();
    await stopConsoleFeed();
    await stopPubSub();
    await disconnectPrisma();
    await started.database?.close();
  };
  try {
    // Before anything starts: a missing master key with a shared database is a configuration error.
    useKeyring(await resolveKeyring(config));
    configureAuthentication({ sessionTtlSeconds: config.sessionTtlSeconds, externalJwt: config.externalJwt });
    configureOutbound({
      allowInsecureUrls: config.allowInsecureUrls,
      allowedPrivateRanges: config.allowedPrivateRanges,
      autoDisableAfterMs: config.autoDisableAfterHours * 3_600_000,
    });
    const database = await openDatabase(config, logger);
    started.database = database;
    const migration = await migrate(database.url, logger);
    if (migration.applied.length) logger.info({ applied: migration.applied }, "database migrated");
    connectPrisma(database.url);
    // Header values stored in plaintext before encryption at rest (SQL could not seal them): seal them now.
    await sealLegacyEndpointHeaders(logger);
    // Masks of secrets stored before listings read them from a column (SQL could not compute them): store them now.
    await backfillSecretMasks(logger);
    let port: number | undefined;
    // Subscription events travel between processes through NOTIFY; every role publishes or subscribes.
    await startPubSub(database.url, logger);
    // The console's subscribers live on API processes; producers anywhere wake them through NOTIFY.
    if (role !== "worker") await startConsoleFeed(database.url, logger);
    // Instance settings (stored ones over the environment's) apply now and follow every later change live.
    configureInstanceDefaults({
      metricsEnabled: config.metricsEnabled,
      metricsPort: config.metricsPort,
      publicUrl: config.publicUrl ?? null,
      allowInsecureUrls: config.allowInsecureUrls,
      allowedPrivateRanges: config.allowedPrivateRanges,
      defaultRetryDelays: [...DEFAULT_RETRY_DELAYS],
    });
    started.settings = await startLiveSettings({
      databaseUrl: database.url,
      metrics: new MetricsServer(config.host, logger),
      // Without a public URL, links use the port actually bound (PORT=0 picks one): read when applied.
      localUrl: () => `http://localhost:${port ?? config.port}`,
      selfUrl: () => (port === undefined ? undefined : `http://127.0.0.1:${port}`),
      logger,
    });
    // Both roles send: workers deliver, the API sends test events and manual retries synchronously.
    started.outbound = createOutboundClient({ policy: addressPolicy });
    useOutboundClient(started.outbound);
    // The API enqueues (agent executions); only workers work the queue.
    started.jobs = await startJobQueue(database.url, allJobs, logger, { work: role !== "api" });
    if (role !== "api") {
      started.dispatcher = new DeliveryDispatcher({
        databaseUrl: database.url,
        client: started.outbound,
        logger,
        concurrency: config.deliveryConcurrency,
        leaseGraceMs: config.deliveryLeaseGraceMs,
      });
      await started.dispatcher.start();
    }

    if (role !== "worker") {
      const http = new HttpServer({
        port: config.port,
        host: config.host,
        yoga: createGraphQLServer(),
        // While the embedded server is restarting (or could not be), say so without waiting on a connection.
        readiness: async () =>
          database.state() === "up"
            ? readinessChecks(migration.known, role === "api" ? undefined : started.jobs)
            : [{ name: "database", ok: false, code: database.state() === "restarting" ? "RESTARTING" : "FAILED" }],
        liveness: () => database.state() !== "failed",
        logger,
      });
      port = await http.listen();
      started.http = http;
    }
    // Apply what the listener's port decides (the default public URL) now that it is bound.
    await started.settings.watcher.reapply();
    registerQueueGauges(readQueueGauges);
    const publicUrl = currentPublicUrl();
    if (!config.databaseUrl) {
      await announceFirstKey(publicUrl, config.masterKey ? "SIGNALPOST_MASTER_KEY" : masterKeyFile(config.dataDir));
    }
    if (port !== undefined) {
      logger.info(
        { port, console: `${publicUrl}/console`, graphiql: `${publicUrl}/graphql` },
        `Signalpost is serving: console ${publicUrl}/console, GraphQL and GraphiQL ${publicUrl}/graphql`,
      );
    }
    return { role, databaseUrl: database.url, port, stop, fatal: database.fatal };
  } catch (error) {
    await stop(2_000).catch((stopError: unknown) =>
      logger.error({ err: stopError }, "cleanup after a failed start failed"),
    );
    throw error;
  }
}

/**
 * On the first start of an empty embedded database: create the default tenant and print its admin key, once, and
 * where the master key lives (`masterKeyAt`), since every stored secret is encrypted under it.
 */
async function announceFirstKey(publicUrl: string, masterKeyAt: string): Promise<void> {
  const first = await bootstrapFirstTenant();
  if (!first) return;
  process.stdout.write(
    [
      "",
      `  Created tenant "${first.tenantSlug}" with an admin API key. It is shown only this once; store it now:`,
      "",
      `    ${first.token}`,
      "",
      `  Open the console at ${publicUrl}/console and sign in with this key.`,
      `  Open ${publicUrl}/graphql and add the header  {"Authorization": "Bearer ${first.token}"}`,
      "  Make more keys with: npx signalpost keys create --tenant <slug> --name <name> --scopes admin",
      `  Back up the master key in ${masterKeyAt}: every stored secret is encrypted under it, and is lost without it.`,
      "",
      "",
    ].join("\n"),
  );
}
