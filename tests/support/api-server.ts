import { wireApp } from "../../src/app-context.js";
import type { SocketLimits } from "../../src/http/connection-guard.js";
import { HttpServer, type HttpServerOptions, type ReadinessCheck } from "../../src/http/server.js";
import { createGraphQLServer } from "../../src/http/yoga.js";
import type { JobQueue } from "../../src/jobs/kit/queue.js";
import { logger } from "../../src/logger.js";
import type { ConsoleFeed } from "../../src/modules/console/console-feed.js";
import { testServices } from "./graphql.js";

export interface RunningApiServer {
  server: HttpServer;
  /** The console's live feed, in servers started with one (startLiveApiServer). */
  consoleFeed?: ConsoleFeed;
  port: number;
  httpUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the API listener on a real loopback port (for WebSocket tests and raw HTTP), using this file's database.
 * Inbound webhooks are accepted only with `jobs`, the queue they are queued on, and the console subscription needs
 * `consoleFeed` (as in a server process, whose context has both).
 */
export async function startApiServer(
  readiness: () => Promise<ReadinessCheck[]> = async () => [{ name: "test", ok: true }],
  services: {
    jobs?: JobQueue;
    consoleFeed?: ConsoleFeed;
    limits?: Partial<SocketLimits>;
    trustedProxies?: HttpServerOptions["trustedProxies"];
    publicUrl?: HttpServerOptions["publicUrl"];
  } = {},
): Promise<RunningApiServer> {
  const { jobs, consoleFeed, limits, trustedProxies, publicUrl } = services;
  if (consoleFeed) testServices.consoleFeed = consoleFeed;
  const yoga = createGraphQLServer(testServices);
  const { agentSecrets, urls } = testServices;
  // Read at each use: a test may put another authenticator in (an external identity provider, a rotated key).
  const authenticator = {
    authenticate: (token: string | null, ip: string | null) => testServices.authenticator.authenticate(token, ip),
  };
  const server = new HttpServer({
    port: 0,
    host: "127.0.0.1",
    yoga,
    readiness,
    logger,
    authenticator,
    agentSecrets,
    jobs,
    limits,
    trustedProxies,
    publicUrl,
  });
  const port = await server.listen();
  urls.configure({ publicUrl: `http://127.0.0.1:${port}`, selfUrl: `http://127.0.0.1:${port}` });
  return {
    server,
    consoleFeed,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    close: () => server.close(Date.now() + 1_000),
  };
}

/**
 * The API listener plus what live subscriptions need in a server process: the subscription hub and the
 * console feed, all on this file's database. `close` stops the three.
 */
export async function startLiveApiServer(): Promise<RunningApiServer> {
  const databaseUrl = process.env.DATABASE_URL as string;
  const live = await wireApp({ databaseUrl, logger, instance: testServices, subscriptions: true, consoleFeed: true });
  testServices.subscriptions = live.subscriptions;
  const api = await startApiServer(undefined, { consoleFeed: live.consoleFeed });
  return {
    ...api,
    close: async () => {
      await live.stop(Date.now() + 1_000);
      if (testServices.subscriptions === live.subscriptions) delete testServices.subscriptions;
      await api.close();
    },
  };
}

/**
 * Starts this file's subscription hub (as an API process's app context does), for API servers started without
 * startLiveApiServer; returns the function that stops it.
 */
export async function startSubscriptions(): Promise<() => Promise<void>> {
  const live = await wireApp({
    databaseUrl: process.env.DATABASE_URL as string,
    logger,
    instance: testServices,
    subscriptions: true,
  });
  testServices.subscriptions = live.subscriptions;
  return async () => {
    await live.stop(Date.now() + 1_000);
    if (testServices.subscriptions === live.subscriptions) delete testServices.subscriptions;
  };
}

/**
 * The API listener for inbound webhook tests: accepted requests are queued as jobs, so the job queue runs too, but
 * nothing works it (the executions stay queued). `close` stops both.
 */
export async function startInboundApiServer(): Promise<RunningApiServer> {
  const queued = await wireApp({
    databaseUrl: process.env.DATABASE_URL as string,
    logger,
    instance: testServices,
    jobs: { work: false },
  });
  const api = await startApiServer(undefined, { jobs: queued.jobs });
  return {
    ...api,
    close: async () => {
      await queued.stop(Date.now() + 1_000);
      await api.close();
    },
  };
}
