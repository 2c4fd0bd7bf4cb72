import { wireApp } from "../../src/app-context.js";
import type { OutboundClient, Resolver } from "../../src/lib/http-client.js";
import { logger } from "../../src/logger.js";
import type { DeliveryDispatcher } from "../../src/modules/deliveries/dispatcher.js";
import type { OutboundSettings } from "../../src/modules/endpoints/outbound-rules.js";
import { testServices } from "./graphql.js";

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
    /** The dispatcher's idle poll (200 ms here; a long one leaves only NOTIFYs and wake-ups to wake it). */
    pollIntervalMs?: number;
    dispatch?: boolean;
  } = {},
): Promise<Delivering> {
  // The file's outbound rules, which its GraphQL servers check endpoints' URLs with too; put back by stop().
  const rulesBefore = { ...testServices.outboundRules.settings };
  testServices.outboundRules.apply({
    allowInsecureUrls: true,
    allowedPrivateRanges: [],
    autoDisableAfterMs: 5 * 24 * 3_600_000,
    ...options.settings,
  });
  const wired = await wireApp({
    databaseUrl: process.env.DATABASE_URL as string,
    logger,
    instance: testServices,
    outbound: { lookup: options.lookup },
    // This process works no job definitions; its dispatcher works the delivery wake-ups itself.
    jobs: { work: false },
    dispatcher: {
      concurrency: options.concurrency ?? 16,
      pollIntervalMs: options.pollIntervalMs ?? 200,
      leaseGraceMs: options.leaseGraceMs,
      start: options.dispatch !== false,
    },
  });
  const client = wired.outbound as OutboundClient;
  // Test sends and manual retries through this file's GraphQL servers use it, as in a worker-and-API process.
  testServices.outbound = client;
  return {
    dispatcher: wired.dispatcher as DeliveryDispatcher,
    client,
    stop: async () => {
      if (testServices.outbound === client) delete testServices.outbound;
      await wired.stop(Date.now() + 2_000);
      testServices.outboundRules.apply(rulesBefore);
    },
  };
}
