import type { IncomingMessage, ServerResponse } from "node:http";
import { LRUCache } from "lru-cache";
import { SharedWindowBudget } from "../../db/shared-window.js";
import type { Agent } from "../../generated/prisma/client.js";
import { isUuid, localId, toGlobalId } from "../../lib/ids.js";
import { sendJson, sendJsonError } from "../../lib/json-response.js";
import { cachedSchema } from "../../lib/json-schema.js";
import { JsonShapeError, measureJson, ONE_MEGABYTE_JSON_LIMITS } from "../../lib/json-shape.js";
import type { Keyring } from "../../lib/master-key.js";
import { inboundRequestsTotal } from "../../lib/metrics.js";
import { openSecret } from "../../lib/secret-box.js";
import { describeUnstorable, findUnstorableTextInParsed } from "../../lib/storable-text.js";
import type { Logger } from "../../logger.js";
import { recordConsoleEvent } from "../console/console-events.js";
import type { Accept } from "./acceptance.js";
import type { AgentAction } from "./agent-config.js";
import {
  failedVerificationsExceeded,
  MAX_FAILED_VERIFICATIONS_PER_MINUTE,
  recordFailedVerification,
} from "./failed-verifications.js";
import { findVersionedAgent, type VersionedAgent } from "./inbound.store.js";
import { verifyInbound } from "./verification-schemes.js";

/** Request bodies larger than this are refused (413) before anything else is looked at. */
export const MAX_INBOUND_BYTES = 1024 * 1024;
/** Headers worth keeping with an execution; credentials and (see below) signatures are not among them. */
const KEPT_HEADERS = [
  "content-type",
  "user-agent",
  "webhook-id",
  "webhook-timestamp",
  "x-github-event",
  "x-github-delivery",
  "x-shopify-topic",
  "x-shopify-webhook-id",
  "x-shopify-shop-domain",
  "x-slack-request-timestamp",
  "x-slack-retry-num",
  "x-request-id",
];

/**
 * Signature headers, kept only for agents that relay: `signalpost listen` re-POSTs the request to a developer's local
 * handler, which should verify it exactly as in production. They prove nothing beyond this one body (and Standard
 * Webhooks' id and timestamp stop replays), so keeping them gives away no credential.
 */
const RELAYED_SIGNATURE_HEADERS = [
  "webhook-signature",
  "x-hub-signature-256",
  "x-webhook-signature",
  "stripe-signature",
  "x-shopify-hmac-sha256",
  "x-slack-signature",
];

/** The headers kept with an execution: the fixed list, plus any a forward action names (never credentials). */
function keptHeaders(agent: Agent, req: IncomingMessage): Record<string, string> {
  const actions = agent.actions as AgentAction[];
  const forwarded = actions.flatMap((action) => (action.type === "forward" ? action.headers : []));
  const relayed = actions.some((action) => action.type === "relay") ? RELAYED_SIGNATURE_HEADERS : [];
  const kept: Record<string, string> = {};
  for (const name of new Set([...KEPT_HEADERS, ...forwarded, ...relayed])) {
    const value = req.headers[name];
    if (value !== undefined) kept[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return kept;
}

class InboundRefusal extends Error {
  /** The agent refused, when it was found (so the refusal can reach its tenant's console). */
  agent: Agent | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
    /** What a limit refusal adds to the answer: the limit and what was measured. */
    readonly details: { limit: number; measured: number } | undefined = undefined,
  ) {
    super(message);
  }
}

/** The structure of an inbound body, 1 MB at most: see ONE_MEGABYTE_JSON_LIMITS. */
export const INBOUND_JSON_LIMITS = ONE_MEGABYTE_JSON_LIMITS;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_INBOUND_BYTES)
    throw new InboundRefusal(413, "PAYLOAD_TOO_LARGE", `the body is over ${MAX_INBOUND_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INBOUND_BYTES)
      throw new InboundRefusal(413, "PAYLOAD_TOO_LARGE", `the body is over ${MAX_INBOUND_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Agents' per-minute budgets, counted in this process and shared with the others (see SharedWindowBudget). */
const inboundBudget = new SharedWindowBudget("agent-inbound");

/** An agent as an inbound request sees it. `version` is the row's xmin, which every change of the agent changes. */
export type InboundAgent = VersionedAgent;

/**
 * Agents this process has read, so that a steady stream of requests costs no lookup each. Nothing is decided on a
 * remembered agent alone: acceptance re-checks its version in the transaction that stores the request, and a refusal
 * is only given once the current row confirms it (see receiveWithCurrentAgent).
 */
const rememberedAgents = new LRUCache<string, InboundAgent>({ max: 10_000 });

/** Reads the agent's current row (and remembers it). @throws InboundRefusal 404 when there is none. */
async function currentAgent(id: string): Promise<InboundAgent> {
  const agent = await findVersionedAgent(id);
  if (!agent) {
    rememberedAgents.delete(id);
    throw new InboundRefusal(404, "AGENT_NOT_FOUND", "no agent with that id");
  }
  rememberedAgents.set(id, agent);
  return agent;
}

/** The agent changed between the checks and the transaction storing the request: decide again on the new row. */
class AgentChanged extends Error {}

/** @throws InboundRefusal 403 unless the agent is ACTIVE. */
function requireActive(agent: InboundAgent): void {
  if (agent.status !== "ACTIVE") {
    throw new InboundRefusal(403, "AGENT_NOT_ACTIVE", `the agent is ${agent.status.toLowerCase()}`);
  }
}

/**
 * Spends one request of the agent's per-minute budget: only verified requests get here, so forged ones never use it
 * up (a replay, refused later, gives its request back). @throws InboundRefusal 429 (with Retry-After).
 */
async function spendBudget(agent: InboundAgent): Promise<void> {
  const budget = await inboundBudget.spend(agent.id, agent.rateLimitPerMinute);
  if (!budget.allowed) {
    throw new InboundRefusal(429, "RATE_LIMITED", `at most ${agent.rateLimitPerMinute} requests a minute`, undefined, {
      "retry-after": String(budget.retryAfterSeconds),
    });
  }
}

/**
 * Agents' secrets opened with one instance's keyring (an instance's own: a secret it could not open must not be
 * verified with one another opened), valid while the agent's version is unchanged (regenerating the secret changes
 * it). As many as the agents remembered above: a remembered agent's secret should not need decrypting again.
 */
export class AgentSecretCache {
  readonly #opened = new LRUCache<
    string,
    { version: string; secret: string; previous: { secret: string; expiresAt: Date } | null }
  >({ max: 10_000 });

  constructor(private readonly keyring: Keyring) {}

  /** The secrets that verify now: the current one, and the one before it during its grace period. */
  async secretsOf(agent: InboundAgent, now = Date.now()): Promise<string[]> {
    let opened = this.#opened.get(agent.id);
    if (!opened || opened.version !== agent.version) {
      const { previousEncryptedSecret, previousSecretExpiresAt } = agent;
      opened = {
        version: agent.version,
        secret: await openSecret(this.keyring, agent.encryptedSecret),
        previous:
          previousEncryptedSecret && previousSecretExpiresAt && previousSecretExpiresAt.getTime() > now
            ? { secret: await openSecret(this.keyring, previousEncryptedSecret), expiresAt: previousSecretExpiresAt }
            : null,
      };
      this.#opened.set(agent.id, opened);
    }
    // The grace period ends on the clock, not on a change of the row.
    return opened.previous && opened.previous.expiresAt.getTime() > now
      ? [opened.secret, opened.previous.secret]
      : [opened.secret];
  }
}

/**
 * Checks the request by the agent's verification scheme (verification-schemes.ts). The code says which check failed;
 * nothing says what was expected. Resolves with the id to check against replays when the request is stored, and the
 * header it came from.
 */
async function verifySignature(
  secrets: AgentSecretCache,
  agent: InboundAgent,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ replayId: string; replayIdFrom: string }> {
  const verdict = verifyInbound(agent.verificationScheme, {
    headers: req.headers as Record<string, string | string[] | undefined>,
    body,
    secrets: await secrets.secretsOf(agent),
  });
  if (!verdict.ok) throw new InboundRefusal(401, verdict.code, `signature check failed: ${verdict.message}`);
  return verdict;
}

/**
 * The body as JSON, refused (400) when it is not JSON, holds text PostgreSQL cannot store (NUL, unpaired
 * surrogates: `field` is the JSON pointer), or breaks the agent's payload schema.
 */
function parsePayload(agent: InboundAgent, text: string): unknown {
  try {
    measureJson(Buffer.from(text), INBOUND_JSON_LIMITS);
  } catch (error) {
    if (!(error instanceof JsonShapeError)) throw error;
    throw new InboundRefusal(
      400,
      error.code,
      error.message,
      "body",
      {},
      { limit: error.limit, measured: error.measured },
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new InboundRefusal(400, "INVALID_JSON", "the body is not JSON");
  }
  const unstorable = findUnstorableTextInParsed(text, payload);
  if (unstorable) {
    throw new InboundRefusal(400, "INVALID_JSON", describeUnstorable("payload", unstorable), unstorable.pointer || "/");
  }
  if (agent.payloadSchema !== null) {
    const validate = cachedSchema(`agent:${agent.id}:${agent.version}`, agent.payloadSchema);
    if (!validate(payload)) {
      const [first] = validate.errors ?? [];
      const pointer = first?.instancePath || "/";
      throw new InboundRefusal(
        400,
        "SCHEMA_MISMATCH",
        `payload${first?.instancePath ?? ""} ${first?.message ?? "is invalid"}`,
        pointer,
      );
    }
  }
  return payload;
}

/** What receiving needs of the app context: agents' secrets (opened with its keyring), and where requests go. */
export interface Receiving {
  agentSecrets: AgentSecretCache;
  accept: Accept;
  logger: Logger;
  /** The sender's address, as the HTTP server resolved it (the socket's, or through trusted proxies the forwarded one). */
  sourceIp: string | null;
}

/**
 * POST /agents/:id/webhook. Checked in this order: size (413), the source address's failed verifications (429 with
 * Retry-After, see failed-verifications.ts), agent (404) and status (403), signature and timestamp (401), the
 * agent's rate (429 with Retry-After, spent by verified requests only), JSON and the payload schema (400), and an id
 * already accepted (401 REPLAYED, checked in the transaction that stores the request, see acceptance.ts); accepted
 * requests are stored as executions and queued in one transaction (202). Every 401 counts against the source
 * address. Refusals are logged at warn with agent, code and source address, never the body or the secret.
 */
export async function handleAgentWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  idInUrl: string,
  receiving: Receiving,
): Promise<void> {
  const { logger } = receiving;
  // Webhook URLs carry the agent's global id; URLs with the row's uuid, as earlier versions handed them out, keep
  // working (senders were given them once and cannot be asked to change).
  const agentId = isUuid(idInUrl) ? idInUrl : localId("Agent", idInUrl);
  const { sourceIp } = receiving;
  try {
    if (req.method !== "POST")
      throw new InboundRefusal(405, "METHOD_NOT_ALLOWED", "POST the webhook", undefined, { allow: "POST" });
    const body = await readBody(req);
    if (!isUuid(agentId)) throw new InboundRefusal(404, "AGENT_NOT_FOUND", "no agent with that id");
    const failures = failedVerificationsExceeded(agentId, sourceIp);
    if (failures.exceeded) {
      throw new InboundRefusal(
        429,
        "TOO_MANY_FAILED_VERIFICATIONS",
        `more than ${MAX_FAILED_VERIFICATIONS_PER_MINUTE} failed verifications a minute from this address`,
        undefined,
        { "retry-after": String(failures.retryAfterSeconds) },
      );
    }
    const executionId = await receiveWithCurrentAgent(agentId, req, body, sourceIp, receiving);
    inboundRequestsTotal.inc({ result: "accepted" });
    // The API's id of the execution (the same as agentExecution(id:) takes), not the row's uuid.
    sendJson(res, 202, { status: "queued", executionId: toGlobalId("AgentExecution", executionId) });
  } catch (error) {
    if (!(error instanceof InboundRefusal)) throw error;
    inboundRequestsTotal.inc({ result: error.code.toLowerCase() });
    if (error.status === 413) res.setHeader("connection", "close");
    if (error.status === 401) {
      await recordFailedVerification(agentId, sourceIp).catch((countError: unknown) =>
        logger.warn({ err: countError }, "could not count the failed verification"),
      );
    }
    logger.warn({ agentId, code: error.code, ip: sourceIp }, "inbound webhook refused");
    if (error.agent) await announceRefusal(error.agent, error, sourceIp, logger);
    sendJsonError(
      res,
      error.status,
      { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}), ...error.details },
      error.headers,
    );
  }
}

/** Decisions on one request: a changed agent is read again, a few times at most. */
const RECEIVE_ATTEMPTS = 3;

/**
 * Decides on the request with the remembered agent when there is one, and makes sure the decision holds for the
 * agent's current row: an acceptance is refused by the storing transaction if the agent changed (AgentChanged), and
 * a refusal is checked against the current row, deciding again if it differs. A remembered agent can therefore make
 * a request neither pass nor fail that the database's agent would not.
 * @returns the execution id. @throws InboundRefusal carrying the agent it was decided on.
 */
async function receiveWithCurrentAgent(
  agentId: string,
  req: IncomingMessage,
  body: Buffer,
  sourceIp: string | null,
  receiving: Receiving,
): Promise<string> {
  const remembered = rememberedAgents.get(agentId);
  let agent = remembered ?? (await currentAgent(agentId));
  // A refusal decided on the row just read stands; one decided on a remembered row is confirmed first.
  let justRead = remembered === undefined;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await receive(agent, req, body, sourceIp, receiving);
    } catch (error) {
      const refusal = error instanceof InboundRefusal ? error : undefined;
      if (!refusal && !(error instanceof AgentChanged)) throw error;
      if (refusal) refusal.agent ??= agent;
      if ((refusal && justRead) || attempt === RECEIVE_ATTEMPTS) {
        if (refusal) throw refusal;
        throw new InboundRefusal(
          503,
          "AGENT_CHANGING",
          "the agent kept changing while this request was checked; retry",
        );
      }
      const current = await currentAgent(agentId);
      if (refusal && current.version === agent.version) throw refusal;
      agent = current;
      justRead = true;
    }
  }
}

/** The checks after the agent is known, and storing the request. @throws InboundRefusal, AgentChanged. */
async function receive(
  agent: InboundAgent,
  req: IncomingMessage,
  body: Buffer,
  sourceIp: string | null,
  { accept, agentSecrets }: Receiving,
): Promise<string> {
  requireActive(agent);
  const { replayId: messageId, replayIdFrom } = await verifySignature(agentSecrets, agent, req, body);
  await spendBudget(agent);
  const text = body.toString("utf8");
  const payload = parsePayload(agent, text);
  const headers = keptHeaders(agent, req);
  const stored = await accept({ agent, payload, rawBody: text, headers, sourceIp, messageId });
  if (stored.accepted) return stored.executionId;
  // Neither a replay nor a request decided again on the changed agent spends the budget (the latter spends anew).
  inboundBudget.refund(agent.id);
  if (stored.reason === "agent_changed") throw new AgentChanged();
  throw new InboundRefusal(
    401,
    "REPLAYED",
    replayIdFrom === "body"
      ? "this body was already accepted in the last 15 minutes"
      : `this ${replayIdFrom} was already accepted`,
  );
}

/** Rate-limit refusals reach the console at most this often per agent: a flood must not flood the feed too. */
const RATE_LIMITED_ANNOUNCE_MS = 10_000;
/**
 * Agents whose rate-limit refusal reached the console within the last RATE_LIMITED_ANNOUNCE_MS. Bounded (it used to
 * keep every agent ever refused): 10,000 agents refused within 10 seconds is more than one instance accepts; past it
 * the least recently announced agent may be announced once more, which is harmless. Exported for the test of its
 * bound (tests/agents/rate-limit-announcements.test.ts).
 */
export const recentRateLimitAnnouncements = new LRUCache<string, true>({
  max: 10_000,
  ttl: RATE_LIMITED_ANNOUNCE_MS,
});

/** Whether a rate-limit refusal of `agentId` should reach the console now; notes that it did when so. */
export function shouldAnnounceRateLimit(agentId: string): boolean {
  if (recentRateLimitAnnouncements.get(agentId)) return false;
  recentRateLimitAnnouncements.set(agentId, true);
  return true;
}

/** Tells the tenant's console about a refused request (for an agent that exists: unknown ids have no tenant). */
async function announceRefusal(
  agent: Agent,
  refusal: InboundRefusal,
  sourceIp: string | null,
  logger: Logger,
): Promise<void> {
  if (refusal.status === 429 && !shouldAnnounceRateLimit(agent.id)) return;
  await recordConsoleEvent({
    tenantId: agent.tenantId,
    kind: "INBOUND_REJECTED",
    agentId: agent.id,
    data: { agentName: agent.name, status: refusal.status, code: refusal.code, sourceIp },
  }).catch((error: unknown) => logger.warn({ err: error }, "could not record the refusal in the console"));
}
