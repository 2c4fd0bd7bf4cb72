import { prisma } from "../../db/prisma.js";
import { announceHealthChange, type HealthChange } from "../../db/pubsub.js";
import { rateLimit } from "../../db/rate-limit.js";
import type { Endpoint, Prisma } from "../../generated/prisma/client.js";
import { ConflictError, findOrNotFound, RateLimitedError, ValidationError } from "../../lib/errors.js";
import type { Keyring } from "../../lib/master-key.js";
import { maskSecret, openSecret, sealSecret } from "../../lib/secret-box.js";
import { hasMaskedQueryValue, maskUrlCredentials, restoreMaskedQueryValues } from "../../lib/url-credentials.js";
import { generateWebhookSecret, parseWebhookSecret } from "../../lib/webhook-signature.js";
import { recordAudit } from "../audit/audit.service.js";
import { recordConsoleEvent } from "../console/console-events.js";
import { checkKnownEventTypes } from "../event-types/known-event-types.js";
import type { RequestOrigin } from "../identity/viewer.js";
import { HEADER_VALUE_MASK, openHeaders, sealHeaders } from "./endpoint-headers.js";
import { type CheckedEndpointFields, checkEndpointFields, type EndpointFields } from "./endpoint-input.js";
import type { OutboundRules } from "./outbound-rules.js";

export type { RequestOrigin };

const REVEALS_PER_MINUTE = 10;
const MAX_GRACE_SECONDS = 7 * 24 * 3600;

/** What saving an endpoint needs of the instance: the keyring its secrets are sealed with, and the URL rules. */
export interface EndpointInstance {
  keyring: Keyring;
  outboundRules: OutboundRules;
}

/** Finds one of the tenant's endpoints. @throws NotFoundError for a missing, malformed or foreign id alike. */
export async function findEndpoint(
  tenantId: string,
  id: string,
  client: Prisma.TransactionClient = prisma,
): Promise<Endpoint> {
  return findOrNotFound("endpoint", id, () => client.endpoint.findFirst({ where: { id, tenantId } }));
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === "P2002";
}

/** A user-supplied secret must be a Standard Webhooks secret (`whsec_` + base64 of 24 to 64 bytes). */
function checkSuppliedSecret(secret: string | null | undefined, field: string): string {
  if (!secret) return generateWebhookSecret();
  parseWebhookSecret(secret, field);
  return secret.startsWith("whsec_") ? secret : `whsec_${secret}`;
}

/** Audit metadata for a change: the fields touched, and a loud flag when TLS verification is switched off. */
function changeMetadata(fields: CheckedEndpointFields): Prisma.InputJsonObject {
  return { fields: Object.keys(fields), ...(fields.verifyTls === false ? { tlsVerificationDisabled: true } : {}) };
}

/**
 * Creates an endpoint with its first signing secret (generated unless supplied), returning the secret once.
 * @throws ValidationError naming the field, ConflictError when the name is taken.
 */
export async function createEndpoint(
  tenantId: string,
  input: EndpointFields & { name: string; url: string; secret?: string | null },
  origin: RequestOrigin,
  instance: EndpointInstance,
): Promise<{ endpoint: Endpoint; secret: string }> {
  const { headers, ...fields } = checkEndpointFields(input, instance.outboundRules.urlPolicy());
  const masked = Object.keys(headers ?? {}).find((name) => headers?.[name] === HEADER_VALUE_MASK);
  if (masked) throw new ValidationError("send the header's value, not the mask", `headers.${masked}`);
  if (hasMaskedQueryValue(fields.url as string))
    throw new ValidationError("send the query parameters' values, not the mask", "url");
  const secret = checkSuppliedSecret(input.secret, "secret");
  await checkKnownEventTypes(tenantId, input.eventTypes ?? [], { fieldOf: (index) => `eventTypes.${index}` });
  const [encrypted, storedHeaders] = await Promise.all([
    sealSecret(instance.keyring, secret),
    sealHeaders(instance.keyring, headers ?? {}),
  ]);
  try {
    return await prisma.$transaction(async (tx) => {
      const endpoint = await tx.endpoint.create({
        data: {
          tenantId,
          name: fields.name as string,
          url: fields.url as string,
          description: fields.description ?? null,
          eventTypes: fields.eventTypes ?? [],
          ...storedHeaders,
          timeoutMs: fields.timeoutMs ?? 15_000,
          retrySchedule: fields.retrySchedule ?? [],
          retryPolicyCustom: fields.retryPolicyCustom ?? false,
          verifyTls: fields.verifyTls ?? true,
          secrets: { create: { version: 1, encrypted, masked: maskSecret(secret) } },
        },
      });
      await recordAudit(
        {
          tenantId,
          ...origin,
          action: "endpoint.created",
          target: { type: "Endpoint", id: endpoint.id },
          metadata: changeMetadata({ ...fields, ...(headers ? { headers } : {}) }),
        },
        tx,
      );
      return { endpoint, secret };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`an endpoint named "${fields.name}" already exists`, "name");
    throw error;
  }
}

/**
 * A header sent back as the mask keeps its stored value, so a client that read the endpoint (values masked) can send
 * the headers back with one changed. @throws ValidationError when a masked name has no stored value.
 */
async function keepMaskedValues(
  keyring: Keyring,
  headers: Record<string, string>,
  existing: Endpoint,
): Promise<Record<string, string>> {
  if (!Object.values(headers).includes(HEADER_VALUE_MASK)) return headers;
  const stored = await openHeaders(keyring, existing);
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => {
      if (value !== HEADER_VALUE_MASK) return [name, value];
      const kept = stored[name];
      if (kept === undefined) throw new ValidationError("send the header's value, not the mask", `headers.${name}`);
      return [name, kept];
    }),
  );
}

/**
 * Stored header values go only where they were given for: a change of the URL's origin (scheme, host, port) needs
 * the values sent again (or `headers: {}` to drop them). Otherwise an `endpoints:write` key could point the endpoint
 * at its own host and read the values off a test send, around the audited `secrets:reveal` path.
 * @throws ValidationError on `headers` (not given) or `headers.<name>` (sent back as the mask).
 */
function requireHeaderValuesForNewOrigin(
  existing: Endpoint,
  url: string | undefined,
  headers: Record<string, string> | undefined,
): void {
  if (url === undefined || existing.headerNames.length === 0) return;
  if (new URL(url).origin === new URL(existing.url).origin) return;
  const message = "the URL's origin changes: send the header values again, or headers: {} to drop them";
  if (headers === undefined) throw new ValidationError(message, "headers");
  const masked = Object.entries(headers).find(([, value]) => value === HEADER_VALUE_MASK);
  if (masked) throw new ValidationError(message, `headers.${masked[0]}`);
}

/** Changes only the fields given. @throws ValidationError, ConflictError (name), NotFoundError. */
export async function updateEndpoint(
  tenantId: string,
  id: string,
  input: EndpointFields,
  origin: RequestOrigin,
  instance: EndpointInstance,
): Promise<Endpoint> {
  const { headers, ...fields } = checkEndpointFields(input, instance.outboundRules.urlPolicy());
  try {
    return await prisma.$transaction(async (tx) => {
      const existing = await findEndpoint(tenantId, id, tx);
      requireHeaderValuesForNewOrigin(existing, fields.url, headers);
      if (fields.url !== undefined) fields.url = restoreMaskedQueryValues(fields.url, existing.url);
      if (input.eventTypes) {
        await checkKnownEventTypes(tenantId, input.eventTypes, {
          fieldOf: (index) => `eventTypes.${index}`,
          alreadyStored: existing.eventTypes,
        });
      }
      const storedHeaders =
        headers === undefined
          ? {}
          : await sealHeaders(instance.keyring, await keepMaskedValues(instance.keyring, headers, existing));
      const endpoint = await tx.endpoint.update({ where: { id }, data: { ...fields, ...storedHeaders } });
      await recordAudit(
        {
          tenantId,
          ...origin,
          action: "endpoint.updated",
          target: { type: "Endpoint", id },
          metadata: changeMetadata({ ...fields, ...(headers ? { headers } : {}) }),
        },
        tx,
      );
      return endpoint;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(`an endpoint named "${fields.name}" already exists`, "name");
    throw error;
  }
}

/** Deletes an endpoint with its deliveries and attempts. @throws NotFoundError. */
export async function deleteEndpoint(tenantId: string, id: string, origin: RequestOrigin): Promise<Endpoint> {
  return prisma.$transaction(async (tx) => {
    const endpoint = await findEndpoint(tenantId, id, tx);
    await tx.endpoint.delete({ where: { id } });
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "endpoint.deleted",
        target: { type: "Endpoint", id },
        metadata: { name: endpoint.name, url: maskUrlCredentials(endpoint.url) },
      },
      tx,
    );
    return endpoint;
  });
}

/**
 * Disables an endpoint and fails its waiting deliveries with reason `endpoint_disabled` (recoverEndpoint can send
 * them again later), so the queue does not fill with work that cannot go anywhere.
 */
export async function disableEndpoint(
  tenantId: string,
  id: string,
  reason: string,
  origin: RequestOrigin,
): Promise<Endpoint> {
  const { endpoint, previous } = await prisma.$transaction(async (tx) => {
    const existing = await findEndpoint(tenantId, id, tx);
    if (!existing.enabled) return { endpoint: existing, previous: null };
    const endpoint = await tx.endpoint.update({
      where: { id },
      data: { enabled: false, disabledReason: reason, disabledAt: new Date() },
    });
    await tx.delivery.updateMany({
      where: { endpointId: id, status: { in: ["PENDING", "SENDING"] } },
      data: { status: "FAILED", failureReason: "endpoint_disabled", completedAt: new Date() },
    });
    await recordAudit(
      { tenantId, ...origin, action: "endpoint.disabled", target: { type: "Endpoint", id }, metadata: { reason } },
      tx,
    );
    await recordConsoleEvent(
      { tenantId, kind: "ENDPOINT_DISABLED", endpointId: id, data: { name: endpoint.name, reason } },
      tx,
    );
    return { endpoint, previous: existing };
  });
  if (previous)
    announceHealthChange({ tenantId, endpointId: id, state: "DISABLED", previousState: healthState(previous) });
  return endpoint;
}

function healthState(endpoint: Endpoint): HealthChange["state"] {
  return !endpoint.enabled ? "DISABLED" : endpoint.consecutiveFailures > 0 ? "FAILING" : "HEALTHY";
}

/** Enables an endpoint and forgets its failure streak (auto-disable starts counting afresh). */
export async function enableEndpoint(tenantId: string, id: string, origin: RequestOrigin): Promise<Endpoint> {
  let changed = false;
  const enabled = await prisma.$transaction(async (tx) => {
    const existing = await findEndpoint(tenantId, id, tx);
    if (existing.enabled) return existing;
    changed = true;
    const endpoint = await tx.endpoint.update({
      where: { id },
      data: { enabled: true, disabledReason: null, disabledAt: null, failingSince: null, consecutiveFailures: 0 },
    });
    await recordAudit({ tenantId, ...origin, action: "endpoint.enabled", target: { type: "Endpoint", id } }, tx);
    await recordConsoleEvent({ tenantId, kind: "ENDPOINT_ENABLED", endpointId: id, data: { name: endpoint.name } }, tx);
    return endpoint;
  });
  if (changed) announceHealthChange({ tenantId, endpointId: id, state: "HEALTHY", previousState: "DISABLED" });
  return enabled;
}

/** The current (newest) secret, decrypted: for the reveal only (listings read the stored mask). */
export async function currentSecret(
  keyring: Keyring,
  endpointId: string,
): Promise<{ secret: string; version: number; createdAt: Date }> {
  const row = await prisma.endpointSecret.findFirstOrThrow({ where: { endpointId }, orderBy: { version: "desc" } });
  return { secret: await openSecret(keyring, row.encrypted), version: row.version, createdAt: row.createdAt };
}

/**
 * Reveals the current secret: needs `secrets:reveal` (checked by the schema), is rate limited to 10 a minute per
 * actor and leaves an audit entry. @throws RateLimitedError, NotFoundError.
 */
export async function revealEndpointSecret(tenantId: string, id: string, origin: RequestOrigin, keyring: Keyring) {
  const endpoint = await findEndpoint(tenantId, id);
  await consumeReveal(tenantId, origin);
  const current = await currentSecret(keyring, id);
  await recordAudit({
    tenantId,
    ...origin,
    action: "endpoint_secret.revealed",
    target: { type: "Endpoint", id },
    metadata: { version: current.version },
  });
  await recordConsoleEvent({
    tenantId,
    kind: "SECRET_REVEALED",
    endpointId: id,
    data: { target: "endpoint", name: endpoint.name, version: current.version },
  });
  return current;
}

/** The actor's reveals (secrets, header values and URLs together) allowed this minute. @throws RateLimitedError. */
async function consumeReveal(tenantId: string, origin: RequestOrigin): Promise<void> {
  const decision = await rateLimit("secret-reveals", REVEALS_PER_MINUTE, 60).consume(
    `${tenantId}:${origin.actor.id ?? "system"}`,
  );
  if (!decision.allowed) {
    throw new RateLimitedError(`at most ${REVEALS_PER_MINUTE} secret reveals a minute`, decision.retryAfterSeconds);
  }
}

/**
 * Reveals the endpoint's custom header values: like the secret, it needs `secrets:reveal` (checked by the schema),
 * shares its limit of 10 a minute per actor, and leaves an audit entry and a console event naming the headers (never
 * their values). @throws RateLimitedError, NotFoundError.
 */
export async function revealEndpointHeaders(
  tenantId: string,
  id: string,
  origin: RequestOrigin,
  keyring: Keyring,
): Promise<{ headers: Record<string, string> }> {
  const endpoint = await findEndpoint(tenantId, id);
  await consumeReveal(tenantId, origin);
  const headers = await openHeaders(keyring, endpoint);
  await recordAudit({
    tenantId,
    ...origin,
    action: "endpoint_headers.revealed",
    target: { type: "Endpoint", id },
    metadata: { names: Object.keys(headers) },
  });
  await recordConsoleEvent({
    tenantId,
    kind: "SECRET_REVEALED",
    endpointId: id,
    data: { target: "endpoint", name: endpoint.name, headerNames: Object.keys(headers) },
  });
  return { headers };
}

/**
 * Reveals the endpoint's URL in full, query parameter values and all (every reader sees them masked): like the secret,
 * it needs `secrets:reveal` (checked by the schema), shares its limit of 10 a minute per actor, and leaves an audit
 * entry and a console event carrying the masked URL only. @throws RateLimitedError, NotFoundError.
 */
export async function revealEndpointUrl(tenantId: string, id: string, origin: RequestOrigin): Promise<{ url: string }> {
  const endpoint = await findEndpoint(tenantId, id);
  await consumeReveal(tenantId, origin);
  const masked = maskUrlCredentials(endpoint.url);
  await recordAudit({
    tenantId,
    ...origin,
    action: "endpoint_url.revealed",
    target: { type: "Endpoint", id },
    metadata: { url: masked },
  });
  await recordConsoleEvent({
    tenantId,
    kind: "SECRET_REVEALED",
    endpointId: id,
    data: { target: "endpoint", name: endpoint.name, url: masked },
  });
  return { url: endpoint.url };
}

/**
 * Makes a new current secret (generated unless supplied). The old one keeps signing, next to the new one, until the
 * grace period ends, so receivers can switch without dropping a delivery. Returns the new secret once.
 */
export async function rotateEndpointSecret(
  tenantId: string,
  id: string,
  options: { gracePeriodSeconds: number; secret?: string | null },
  origin: RequestOrigin,
  keyring: Keyring,
) {
  if (
    !Number.isInteger(options.gracePeriodSeconds) ||
    options.gracePeriodSeconds < 0 ||
    options.gracePeriodSeconds > MAX_GRACE_SECONDS
  ) {
    throw new ValidationError(`gracePeriodSeconds must be between 0 and ${MAX_GRACE_SECONDS}`, "gracePeriodSeconds");
  }
  const secret = checkSuppliedSecret(options.secret, "secret");
  const encrypted = await sealSecret(keyring, secret);
  return prisma.$transaction(async (tx) => {
    const endpoint = await findEndpoint(tenantId, id, tx);
    const now = new Date();
    const latest = await tx.endpointSecret.findFirstOrThrow({
      where: { endpointId: id },
      orderBy: { version: "desc" },
    });
    const graceEnds = new Date(now.getTime() + options.gracePeriodSeconds * 1000);
    // Every older secret still live ends with the grace period at the latest.
    await tx.endpointSecret.updateMany({
      where: { endpointId: id, OR: [{ expiresAt: null }, { expiresAt: { gt: graceEnds } }] },
      data: { expiresAt: graceEnds },
    });
    const created = await tx.endpointSecret.create({
      data: { endpointId: id, version: latest.version + 1, encrypted, masked: maskSecret(secret) },
    });
    // Touch the endpoint so workers' caches of its secrets are refreshed.
    await tx.endpoint.update({ where: { id }, data: { updatedAt: now } });
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "endpoint_secret.rotated",
        target: { type: "Endpoint", id },
        metadata: { version: created.version, previousExpiresAt: graceEnds.toISOString() },
      },
      tx,
    );
    await recordConsoleEvent(
      {
        tenantId,
        kind: "SECRET_REGENERATED",
        endpointId: id,
        data: { target: "endpoint", name: endpoint.name, version: created.version },
      },
      tx,
    );
    return { secret, version: created.version, previousExpiresAt: graceEnds };
  });
}
