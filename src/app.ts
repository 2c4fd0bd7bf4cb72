import { createAppContext } from "./app-context.js";
import type { Config } from "./config.js";
import { readinessChecks } from "./http/readiness.js";
import { HttpServer } from "./http/server.js";
import { createGraphQLServer } from "./http/yoga.js";
import { masterKeyFile } from "./lib/master-key.js";
import { registerQueueGauges } from "./lib/metrics.js";
import type { Logger } from "./logger.js";
import { readQueueGauges } from "./modules/deliveries/delivery-store.js";
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
 * Starts one Signalpost process: its context (createAppContext: the database, embedded unless DATABASE_URL,
 * migrated under an advisory lock, then the services its role runs), then the HTTP listener (api, all). Whatever started is stopped again
 * when a later step fails, so a failed start leaves no PostgreSQL behind.
 */
export async function startApp(config: Config, role: Role, logger: Logger): Promise<App> {
  let port: number | undefined;
  const context = await createAppContext(config, role, logger, () => port);
  let http: HttpServer | undefined;
  const stop = async (timeoutMs = config.shutdownTimeoutMs) => {
    const begun = Date.now();
    // HTTP gets most of the budget to finish in-flight requests; jobs get what is left of it.
    await http?.close(begun + timeoutMs * 0.6);
    await context.stop(begun + timeoutMs * 0.8, begun + timeoutMs * 0.9);
  };
  try {
    const { database, migration, jobs } = context;
    if (role !== "worker") {
      const server = new HttpServer({
        port: config.port,
        host: config.host,
        yoga: createGraphQLServer(context.services),
        // While the embedded server is restarting (or could not be), say so without waiting on a connection.
        readiness: async () =>
          database.state() === "up"
            ? readinessChecks(migration.known, role === "api" ? undefined : jobs)
            : [{ name: "database", ok: false, code: database.state() === "restarting" ? "RESTARTING" : "FAILED" }],
        liveness: () => database.state() !== "failed",
        logger,
        authenticator: context.services.authenticator,
        agentSecrets: context.services.agentSecrets,
        jobs,
        limits: config.socketLimits,
        trustedProxies: config.trustedProxies,
        publicUrl: () => context.services.urls.publicUrl(),
      });
      port = await server.listen();
      http = server;
    }
    // Apply what the listener's port decides (the default public URL) now that it is bound.
    await context.settings?.watcher.reapply();
    registerQueueGauges(readQueueGauges);
    const publicUrl = context.services.urls.publicUrl();
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
