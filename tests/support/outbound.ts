import { createOutboundClient, type OutboundClient, type Resolver } from "../../src/lib/http-client.js";
import { logger } from "../../src/logger.js";
import { DeliveryDispatcher } from "../../src/modules/deliveries/dispatcher.js";
import { useOutboundClient } from "../../src/modules/deliveries/outbound-client.js";
import {
  addressPolicy,
  configureOutbound,
  type OutboundSettings,
} from "../../src/modules/endpoints/outbound-settings.js";

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
  configureOutbound({
    allowInsecureUrls: true,
    allowedPrivateRanges: [],
    autoDisableAfterMs: 5 * 24 * 3_600_000,
    ...options.settings,
  });
  const client = createOutboundClient({ policy: addressPolicy, lookup: options.lookup });
  useOutboundClient(client);
  const dispatcher = new DeliveryDispatcher({
    databaseUrl: process.env.DATABASE_URL as string,
    client,
    logger,
    concurrency: options.concurrency ?? 16,
    pollIntervalMs: 200,
    leaseGraceMs: options.leaseGraceMs,
  });
  if (options.dispatch !== false) await dispatcher.start();
  return {
    dispatcher,
    client,
    stop: async () => {
      if (options.dispatch !== false) await dispatcher.stop(Date.now() + 2_000);
      await client.close();
    },
  };
}
