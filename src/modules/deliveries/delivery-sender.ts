import { LRUCache } from "lru-cache";
import { prisma } from "../../db/prisma.js";
import type { OutboundClient, OutboundResult } from "../../lib/http-client.js";
import type { Keyring } from "../../lib/master-key.js";
import { openSecret } from "../../lib/secret-box.js";
import { signWebhook } from "../../lib/webhook-signature.js";
import { VERSION } from "../../version.js";
import { maskedHeaders, openHeaders } from "../endpoints/endpoint-headers.js";
import type { DeliveryWork } from "./delivery-store.js";

const USER_AGENT = `Signalpost/${VERSION}`;

/** The Standard Webhooks message id: the event's, so it is the same on every retry and receivers can deduplicate. */
export function messageId(eventId: string): string {
  return `msg_${eventId.replace(/-/g, "")}`;
}

/**
 * The documented body of every delivery: `{ "type", "timestamp" (when the event was published), "data" }`. It does
 * not change between retries; the signature's timestamp does.
 */
export function webhookBody(work: Pick<DeliveryWork, "eventType" | "eventCreatedAt" | "payload">): string {
  return JSON.stringify({ type: work.eventType, timestamp: work.eventCreatedAt.toISOString(), data: work.payload });
}

/** Headers every delivery request carries besides the per-attempt signature (`webhook-id/-timestamp/-signature`). */
export function unsignedHeaders(
  extraHeaders: Record<string, string> | null,
  customHeaders: Record<string, string>,
): Record<string, string> {
  return { ...extraHeaders, ...customHeaders, "content-type": "application/json", "user-agent": USER_AGENT };
}

/** A delivery's request as every attempt sends it, for reading: the custom header values masked. */
export interface RequestAsSent {
  body: string;
  headers: Record<string, string>;
}

/**
 * The body and headers a delivery goes out with (what {@link sendWebhook} sends), custom header values masked. The
 * signature and its timestamp are made at each attempt and are not kept, so only `webhook-id` of the three is here.
 */
export function requestAsSent(delivery: {
  eventId: string;
  eventType: string;
  event: { payload: unknown; createdAt: Date; rawBody: string | null; extraHeaders: unknown };
  endpoint: { headerNames: string[] | null };
}): RequestAsSent {
  const { event } = delivery;
  const body =
    event.rawBody ??
    webhookBody({ eventType: delivery.eventType, eventCreatedAt: event.createdAt, payload: event.payload });
  const extra = (event.extraHeaders ?? null) as Record<string, string> | null;
  return {
    body,
    headers: {
      ...unsignedHeaders(extra, maskedHeaders(delivery.endpoint)),
      "webhook-id": messageId(delivery.eventId),
    },
  };
}

/** What an endpoint's deliveries are sent with: its live signing secrets and its custom headers, decrypted. */
export interface EndpointCredentials {
  secrets: string[];
  headers: Record<string, string>;
}

interface CachedCredentials {
  updatedAt: number;
  secrets: { value: string; expiresAt: number | null }[];
  headers: Record<string, string>;
}

/**
 * Decrypted signing secrets and custom header values per endpoint, kept while the endpoint's `updatedAt` is unchanged
 * (an update or a rotation touches it), so a busy worker decrypts each once instead of once per delivery: a hit is a
 * cache lookup. Both are read on a miss only, which also keeps the header values out of every claim's rows. Expired
 * secrets are dropped at use. At most 10,000 endpoints (the least recently used go first): a worker busy with more
 * decrypts the others again, as it did before its first delivery. One per instance, opened with its keyring, shared by
 * its dispatcher and its test sends and manual retries.
 */
export class EndpointCredentialCache {
  private readonly entries = new LRUCache<string, CachedCredentials>({ max: 10_000 });

  constructor(private readonly keyring: Keyring) {}

  async credentialsFor(endpointId: string, endpointUpdatedAt: Date, now = Date.now()): Promise<EndpointCredentials> {
    let entry = this.entries.get(endpointId);
    if (!entry || entry.updatedAt !== endpointUpdatedAt.getTime()) {
      const [rows, stored] = await Promise.all([
        prisma.endpointSecret.findMany({ where: { endpointId }, orderBy: { version: "desc" } }),
        prisma.endpoint.findUnique({
          where: { id: endpointId },
          select: { sealedHeaders: true, legacyPlaintextHeaders: true },
        }),
      ]);
      const [secrets, headers] = await Promise.all([
        Promise.all(
          rows.map(async (row) => ({
            value: await openSecret(this.keyring, row.encrypted),
            expiresAt: row.expiresAt?.getTime() ?? null,
          })),
        ),
        stored ? openHeaders(this.keyring, stored) : {},
      ]);
      entry = { updatedAt: endpointUpdatedAt.getTime(), secrets, headers };
      this.entries.set(endpointId, entry);
    }
    return {
      secrets: entry.secrets
        .filter((secret) => secret.expiresAt === null || secret.expiresAt > now)
        .map((secret) => secret.value),
      headers: entry.headers,
    };
  }
}

/**
 * Signs (one `v1,` signature per live secret, so receivers keep verifying through a rotation) and POSTs one delivery.
 * Never throws for the receiver's failures: the result says what happened.
 */
export async function sendWebhook(
  client: OutboundClient,
  work: DeliveryWork,
  { secrets, headers }: EndpointCredentials,
): Promise<OutboundResult> {
  // A forwarded request goes out with its original body and chosen headers; everything else in the envelope.
  const body = work.rawBody ?? webhookBody(work);
  const signature = signWebhook({ msgId: messageId(work.eventId), timestamp: new Date(), body, secrets });
  return client.post({
    url: work.endpoint.url,
    body,
    timeoutMs: work.endpoint.timeoutMs,
    verifyTls: work.endpoint.verifyTls,
    headers: { ...unsignedHeaders(work.extraHeaders, headers), ...signature },
  });
}
