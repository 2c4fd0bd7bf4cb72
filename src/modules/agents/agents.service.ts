import { randomBytes } from "node:crypto";
import { request } from "undici";
import { prisma } from "../../db/prisma.js";
import { rateLimit } from "../../db/rate-limit.js";
import { type Agent, type AgentStatus, Prisma } from "../../generated/prisma/client.js";
import { ConflictError, findOrNotFound, RateLimitedError, ValidationError } from "../../lib/errors.js";
import type { Keyring } from "../../lib/master-key.js";
import type { PublicUrls } from "../../lib/public-url.js";
import { maskSecret, openSecret, sealSecret } from "../../lib/secret-box.js";
import { recordAudit } from "../audit/audit.service.js";
import { recordConsoleEvent } from "../console/console-events.js";
import { checkKnownEventTypes } from "../event-types/known-event-types.js";
import type { RequestOrigin } from "../identity/viewer.js";
import { readTenantSettings } from "../settings/settings.service.js";
import { type AgentAction, checkActions, checkPayloadSchema, checkTransform } from "./agent-config.js";
import { checkSecretFor, signInbound, type VerificationScheme } from "./verification-schemes.js";

export interface AgentFields {
  name?: string;
  description?: string | null;
  status?: AgentStatus;
  payloadSchema?: unknown;
  transform?: string | null;
  actions?: unknown;
  rateLimitPerMinute?: number;
  verification?: AgentVerificationInput;
}

/** How the agent verifies its sender, and (when the sender makes the secret: Stripe, Shopify, Slack) that secret. */
export interface AgentVerificationInput {
  scheme: VerificationScheme;
  secret?: string | null;
}

/**
 * A secret the sender made (Stripe's `whsec_...`, Shopify's app secret, Slack's signing secret, or one chosen for
 * GitHub): printable ASCII without spaces, 8 to 256 characters, the lengths those providers hand out with room.
 */
const SENDER_SECRET = /^[\x21-\x7e]{8,256}$/;

/** @throws ValidationError on `verification.secret`, also when `scheme` cannot verify with it. */
function checkSenderSecret(scheme: VerificationScheme, secret: string): string {
  if (!SENDER_SECRET.test(secret)) {
    throw new ValidationError(
      "secret must be 8 to 256 printable ASCII characters without spaces",
      "verification.secret",
    );
  }
  checkSecretFor(scheme, secret, "verification.secret");
  return secret;
}

const REVEALS_PER_MINUTE = 10;
/** The longest an old secret keeps verifying after regenerateAgentSecret: 7 days, as for endpoints. */
export const MAX_GRACE_SECONDS = 7 * 24 * 3600;
/** Columns of the secret, never named in an audit entry's list of changed fields. */
const SECRET_COLUMNS = new Set([
  "encryptedSecret",
  "maskedSecret",
  "previousEncryptedSecret",
  "previousSecretExpiresAt",
]);

/** A new agent secret: 32 random bytes, base64. */
export function generateAgentSecret(): string {
  return randomBytes(32).toString("base64");
}

/**
 * The actions' targets must exist in the tenant: a forward names one of its endpoints, an emitEvent one of its event
 * types (otherwise every execution would fail and be retried). On update, `stored` are the actions saved before, so
 * an emitEvent whose type was archived since still saves back.
 * @throws ValidationError on `actions.<index>.endpointId` or `actions.<index>.eventType`.
 */
async function checkActionTargets(tenantId: string, data: Prisma.AgentUpdateInput, stored?: unknown): Promise<void> {
  const actions = (data.actions ?? []) as AgentAction[];
  for (const [index, action] of actions.entries()) {
    if (action.type !== "forward") continue;
    const found = await prisma.endpoint.count({ where: { id: action.endpointId, tenantId } });
    if (!found) throw new ValidationError("no endpoint with that id", `actions.${index}.endpointId`);
  }
  const emitted = actions.flatMap((action, index) => (action.type === "emitEvent" ? [{ action, index }] : []));
  await checkKnownEventTypes(
    tenantId,
    emitted.map(({ action }) => action.eventType),
    {
      fieldOf: (position) => `actions.${emitted[position]?.index}.eventType`,
      alreadyStored: emittedEventTypes(stored),
    },
  );
}

function emittedEventTypes(actions: unknown): string[] {
  if (!Array.isArray(actions)) return [];
  return (actions as AgentAction[]).flatMap((action) => (action?.type === "emitEvent" ? [action.eventType] : []));
}

function checkFields(input: AgentFields) {
  const data: Prisma.AgentUpdateInput = {};
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (!name || name.length > 100) throw new ValidationError("name must be 1 to 100 characters", "name");
    data.name = name;
  }
  if (input.description !== undefined) {
    if (input.description && input.description.length > 1_000)
      throw new ValidationError("description must be at most 1000 characters", "description");
    data.description = input.description || null;
  }
  if (input.status !== undefined) data.status = input.status;
  if (input.payloadSchema !== undefined) {
    const schema = checkPayloadSchema(input.payloadSchema);
    data.payloadSchema = schema === null ? Prisma.DbNull : (schema as Prisma.InputJsonValue);
  }
  if (input.transform !== undefined) data.transform = checkTransform(input.transform);
  if (input.actions !== undefined) data.actions = checkActions(input.actions) as Prisma.InputJsonValue;
  if (input.rateLimitPerMinute !== undefined) {
    if (
      !Number.isInteger(input.rateLimitPerMinute) ||
      input.rateLimitPerMinute < 1 ||
      input.rateLimitPerMinute > 1_000_000
    ) {
      throw new ValidationError("rateLimitPerMinute must be between 1 and 1000000", "rateLimitPerMinute");
    }
    data.rateLimitPerMinute = input.rateLimitPerMinute;
  }
  // null (as GraphQL allows for an optional input) changes nothing, like leaving it out.
  if (input.verification) data.verificationScheme = input.verification.scheme;
  return data;
}

export async function findAgent(
  tenantId: string,
  id: string,
  client: Prisma.TransactionClient = prisma,
  query: { include?: Prisma.AgentInclude; select?: Prisma.AgentSelect } = {},
): Promise<Agent> {
  return findOrNotFound("agent", id, () => client.agent.findFirst({ ...query, where: { id, tenantId } }));
}

const conflict = (error: unknown, name: unknown) => {
  if ((error as { code?: string }).code === "P2002")
    return new ConflictError(`an agent named "${name}" already exists`, "name");
  return error;
};

/** Creates an agent with a new secret, returned once. @throws ValidationError, ConflictError. */
export async function createAgent(
  tenantId: string,
  input: AgentFields & { name: string },
  origin: RequestOrigin,
  keyring: Keyring,
) {
  const data = checkFields(input);
  await checkActionTargets(tenantId, data);
  // Without a limit of its own, an agent gets the tenant's default (a setting).
  data.rateLimitPerMinute ??= (await readTenantSettings(tenantId)).defaultInboundRateLimitPerMinute;
  const given = input.verification?.secret;
  // A generated secret (32 random bytes, base64) suits every scheme.
  const secret = given
    ? checkSenderSecret(input.verification?.scheme ?? "STANDARD_WEBHOOKS", given)
    : generateAgentSecret();
  const encryptedSecret = await sealSecret(keyring, secret);
  try {
    return await prisma.$transaction(async (tx) => {
      const agent = await tx.agent.create({
        data: {
          ...(data as Prisma.AgentCreateWithoutTenantInput),
          name: data.name as string,
          encryptedSecret,
          maskedSecret: maskSecret(secret),
          tenant: { connect: { id: tenantId } },
        },
      });
      await recordAudit(
        {
          tenantId,
          ...origin,
          action: "agent.created",
          target: { type: "Agent", id: agent.id },
          metadata: { name: agent.name, verificationScheme: agent.verificationScheme, senderSecret: Boolean(given) },
        },
        tx,
      );
      return { agent, secret };
    });
  } catch (error) {
    throw conflict(error, data.name);
  }
}

/** Changes the fields given. @throws ValidationError, ConflictError, NotFoundError. */
export async function updateAgent(
  tenantId: string,
  id: string,
  input: AgentFields,
  origin: RequestOrigin,
  keyring: Keyring,
): Promise<Agent> {
  const data = checkFields(input);
  const verification = input.verification ?? undefined;
  // A sender's own secret replaces the agent's: the old one stops working at once, as with regenerateAgentSecret.
  const secret = verification?.secret ? checkSenderSecret(verification.scheme, verification.secret) : undefined;
  if (verification && !secret) {
    // The scheme changes and the secret stays: it must suit the new scheme (a Shopify secret is no Standard Webhooks
    // one), or every request would be refused.
    const stored = await findAgent(tenantId, id, prisma, { select: { encryptedSecret: true } });
    checkSecretFor(verification.scheme, await openSecret(keyring, stored.encryptedSecret), "verification.secret");
  }
  if (secret) {
    data.encryptedSecret = await sealSecret(keyring, secret);
    data.maskedSecret = maskSecret(secret);
    // The sender changed its secret: the old one has no grace period left to serve.
    data.previousEncryptedSecret = null;
    data.previousSecretExpiresAt = null;
  }
  try {
    return await prisma.$transaction(async (tx) => {
      const existing = await findAgent(tenantId, id, tx);
      if (data.actions !== undefined) await checkActionTargets(tenantId, data, existing.actions);
      const agent = await tx.agent.update({ where: { id }, data });
      await recordAudit(
        {
          tenantId,
          ...origin,
          action: "agent.updated",
          target: { type: "Agent", id },
          metadata: {
            fields: Object.keys(data).filter((field) => !SECRET_COLUMNS.has(field)),
            ...(verification ? { verificationScheme: verification.scheme } : {}),
          },
        },
        tx,
      );
      if (secret) {
        await recordAudit({ tenantId, ...origin, action: "agent_secret.replaced", target: { type: "Agent", id } }, tx);
        await recordConsoleEvent(
          { tenantId, kind: "SECRET_REGENERATED", agentId: id, data: { target: "agent", name: agent.name } },
          tx,
        );
      }
      return agent;
    });
  } catch (error) {
    throw conflict(error, data.name);
  }
}

export async function deleteAgent(tenantId: string, id: string, origin: RequestOrigin): Promise<Agent> {
  return prisma.$transaction(async (tx) => {
    const agent = await findAgent(tenantId, id, tx);
    await tx.agent.delete({ where: { id } });
    await recordAudit(
      { tenantId, ...origin, action: "agent.deleted", target: { type: "Agent", id }, metadata: { name: agent.name } },
      tx,
    );
    return agent;
  });
}

/** The agent's secret in full: audited with actor and IP, 10 a minute per actor. @throws RateLimitedError, NotFoundError. */
export async function revealAgentSecret(
  tenantId: string,
  id: string,
  origin: RequestOrigin,
  keyring: Keyring,
): Promise<string> {
  const agent = await findAgent(tenantId, id);
  const decision = await rateLimit("secret-reveals", REVEALS_PER_MINUTE, 60).consume(
    `${tenantId}:${origin.actor.id ?? "system"}`,
  );
  if (!decision.allowed)
    throw new RateLimitedError(`at most ${REVEALS_PER_MINUTE} secret reveals a minute`, decision.retryAfterSeconds);
  await recordAudit({ tenantId, ...origin, action: "agent_secret.revealed", target: { type: "Agent", id } });
  await recordConsoleEvent({
    tenantId,
    kind: "SECRET_REVEALED",
    agentId: id,
    data: { target: "agent", name: agent.name },
  });
  return openSecret(keyring, agent.encryptedSecret);
}

/**
 * Replaces the secret. The old one stops working at once, or after `gracePeriodSeconds` (up to 7 days), during which
 * both verify, so the sender can switch without a refused request. Audited; the new secret is returned once.
 * @throws ValidationError on `gracePeriodSeconds`, NotFoundError.
 */
export async function regenerateAgentSecret(
  tenantId: string,
  id: string,
  origin: RequestOrigin,
  keyring: Keyring,
  gracePeriodSeconds = 0,
): Promise<{ agent: Agent; secret: string }> {
  if (!Number.isInteger(gracePeriodSeconds) || gracePeriodSeconds < 0 || gracePeriodSeconds > MAX_GRACE_SECONDS) {
    throw new ValidationError(`gracePeriodSeconds must be between 0 and ${MAX_GRACE_SECONDS}`, "gracePeriodSeconds");
  }
  const secret = generateAgentSecret();
  const encryptedSecret = await sealSecret(keyring, secret);
  return prisma.$transaction(async (tx) => {
    const existing = await findAgent(tenantId, id, tx);
    const agent = await tx.agent.update({
      where: { id },
      data: {
        encryptedSecret,
        maskedSecret: maskSecret(secret),
        previousEncryptedSecret: gracePeriodSeconds > 0 ? existing.encryptedSecret : null,
        previousSecretExpiresAt: gracePeriodSeconds > 0 ? new Date(Date.now() + gracePeriodSeconds * 1000) : null,
      },
    });
    await recordAudit(
      {
        tenantId,
        ...origin,
        action: "agent_secret.regenerated",
        target: { type: "Agent", id },
        metadata: { gracePeriodSeconds },
      },
      tx,
    );
    await recordConsoleEvent(
      { tenantId, kind: "SECRET_REGENERATED", agentId: id, data: { target: "agent", name: agent.name } },
      tx,
    );
    return { agent, secret };
  });
}

/** What the agent's own URL answered to a test webhook. */
export interface TestWebhookAnswer {
  statusCode: number;
  body: unknown;
  executionId: string | null;
}

/**
 * Signs `payload` with the agent's secret, as its scheme's sender would, and POSTs it through the agent's own URL on this instance, so the test
 * goes through the very checks a real sender meets. @throws NotFoundError for another tenant's (or no) agent.
 */
export async function sendTestWebhook(
  tenantId: string,
  agentId: string,
  payload: unknown,
  instance: { keyring: Keyring; urls: PublicUrls },
): Promise<TestWebhookAnswer> {
  const agent = await findAgent(tenantId, agentId);
  const body = JSON.stringify(payload);
  const headers = signInbound(
    agent.verificationScheme,
    body,
    await openSecret(instance.keyring, agent.encryptedSecret),
  );
  const response = await request(`${instance.urls.selfUrl()}/agents/${agent.id}/webhook`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", "user-agent": "Signalpost test webhook" },
    body,
  });
  const answer = (await response.body.json()) as { executionId?: string };
  return { statusCode: response.statusCode, body: answer, executionId: answer.executionId ?? null };
}
