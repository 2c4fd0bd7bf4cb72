import { wireApp } from "../../src/app-context.js";
import type { OutboundClient, Resolver } from "../../src/lib/http-client.js";
import { logger } from "../../src/logger.js";
import type { DeliveryDispatcher } from "../../src/modules/deliveries/dispatcher.js";
import type { OutboundSettings } from "../../src/modules/endpoints/outbound-settings.js";

export interface Delivering {
  dispatcher: DeliveryDispatcher;
  client: OutboundClient;
  stop(): Promise<void>;
}

/**
 * What a worker process runs, in-process: the outbound client (loopback allowed, as on a developer machine, since the
 * receivers are on loopback) and the dispatcher on this file's database.
 */
export async function startDelivering(
  options: {
    settings?: Partial<OutboundSettings>;
    lookup?: Resolver;
    concurrency?: number;
    leaseGraceMs?: number;
    dispatch?: boolean;
  } = {},
): Promise<Delivering> {
  const wired = await wireApp({
    databaseUrl: process.env.DATABASE_URL as string,
    logger,
    outboundSettings: {
      allowInsecureUrls: true,
      allowedPrivateRanges: [],
      autoDisableAfterMs: 5 * 24 * 3_600_000,
      ...options.settings,
    },
    outbound: { lookup: options.lookup },
    dispatcher: {
      concurrency: options.concurrency ?? 16,
      pollIntervalMs: 200,
      leaseGraceMs: options.leaseGraceMs,
      start: options.dispatch !== false,
    },
  });
  return {
    dispatcher: wired.dispatcher as DeliveryDispatcher,
    client: wired.outbound as OutboundClient,
    stop: () => wired.stop(Date.now() + 2_000),
  };
}
