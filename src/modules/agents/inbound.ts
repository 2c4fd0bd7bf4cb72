import type { IncomingMessage, ServerResponse } from "node:http";
import { columnList, prepared } from "../../db/prepared.js";
import { pool } from "../../db/prisma.js";
import { type Agent, Prisma } from "../../generated/prisma/client.js";
import { sendJson, sendJsonError } from "../../http/json.js";
import { isUuid } from "../../lib/ids.js";
import { cachedSchema } from "../../lib/json-schema.js";
import { inboundRequestsTotal } from "../../lib/metrics.js";
import { openSecret } from "../../lib/secret-box.js";
import { SharedWindowBudget } from "../../lib/shared-window.js";
import { verifyGitHubSignature, verifyStandardWebhook } from "../../lib/webhook-signature.js";
import type { Logger } from "../../logger.js";
import { recordConsoleEvent } from "../console/console-events.js";
import { accept } from "./acceptance.js";
import type { AgentAction } from "./agent-config.js";

/** Request bodies larger than this are refused (413) before anything else is looked at. */
export const MAX_INBOUND_BYTES = 1024 * 1024;
const TIMESTAMP_TOLERANCE_SECONDS = 300;
/** Headers worth keeping with an execution; credentials and (see below) signatures are not among them. */
const KEPT_HEADERS = [
  "content-type",
  "user-agent",
  "webhook-id",
  "webhook-timestamp",
  "x-github-event",
  "x-github-delivery",
  "x-request-id",
];

/**
 * Signature headers, kept only for agents that relay: `signalpost listen` re-POSTs the request to a developer's local
 * handler, which should verify it exactly as in production. They prove nothing beyond this one body (and Standard
 * Webhooks' id and timestamp stop replays), so keeping them gives away no credential.
 */
const RELAYED_SIGNATURE_HEADERS = ["webhook-signature", "x-hub-signature-256"];

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
  ) {
    super(message);
  }
}

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
export type InboundAgent = Agent & { version: string };

/**
 * Agents this process has read, so that a steady stream of requests costs no lookup each. Nothing is decided on a
 * remembered agent alone: acceptance re-checks its version in the transaction that stores the request, and a refusal
 * is only given once the current row confirms it (see receiveWithCurrentAgent).
 */
const rememberedAgents = new Map<string, InboundAgent>();
const AGENT_COLUMNS = columnList(Prisma.AgentScalarFieldEnum);
const REMEMBERED_AGENTS_LIMIT = 10_000;

/** Reads the agent's current row (and remembers it). @throws InboundRefusal 404 when there is none. */
async function currentAgent(id: string): Promise<InboundAgent> {
  const { rows } = await pool.query<InboundAgent>(
    prepared(`SELECT ${AGENT_COLUMNS}, xmin::text AS version FROM "Agent" WHERE id = $1`, [id]),
  );
  const agent = rows[0];
  if (!agent) {
    rememberedAgents.delete(id);
    throw new InboundRefusal(404, "AGENT_NOT_FOUND", "no agent with that id");
  }
  rememberedAgents.delete(id);
  rememberedAgents.set(id, agent);
  if (rememberedAgents.size > REMEMBERED_AGENTS_LIMIT) {
    rememberedAgents.delete(rememberedAgents.keys().next().value as string);
  }
  return agent;
}

/** The agent changed between the checks and the transaction storing the request: decide again on the new row. */
class AgentChanged extends Error {}

/** Spends one request of an ACTIVE agent's per-minute budget. @throws InboundRefusal 403 or 429 (with Retry-After). */
async function admitRequest(agent: InboundAgent): Promise<void> {
  if (agent.status !== "ACTIVE") {
    throw new InboundRefusal(403, "AGENT_NOT_ACTIVE", `the agent is ${agent.status.toLowerCase()}`);
  }
  const budget = await inboundBudget.spend(agent.id, agent.rateLimitPerMinute);
  if (!budget.allowed) {
    throw new InboundRefusal(429, "RATE_LIMITED", `at most ${agent.rateLimitPerMinute} requests a minute`, undefined, {
      "retry-after": String(budget.retryAfterSeconds),
    });
  }
}

/** Decrypted secrets by agent, valid while the agent's version is unchanged (regenerating the secret changes it). */
const secretCache = new Map<string, { version: string; secret: string }>();

async function agentSecret(agent: InboundAgent): Promise<string> {
  const cached = secretCache.get(agent.id);
  if (cached && cached.version === agent.version) return cached.secret;
  const secret = await openSecret(agent.encryptedSecret);
  if (secretCache.size > 10_000) secretCache.clear();
  secretCache.set(agent.id, { version: agent.version, secret });
  return secret;
}

/**
 * Checks Standard Webhooks headers (timestamp within 5 minutes; the webhook-id is checked against replays when the
 * request is stored) or GitHub's X-Hub-Signature-256. The code says which check failed; nothing says what was
 * expected. Resolves with the webhook-id to check against replays (null for GitHub's scheme).
 */
async function verifySignature(agent: InboundAgent, req: IncomingMessage, body: Buffer): Promise<string | null> {
  const secret = await agentSecret(agent);
  const headers = req.headers as Record<string, string | string[] | undefined>;
  if (headers["webhook-signature"] !== undefined) {
    const result = verifyStandardWebhook({
      headers,
      body,
      secrets: [secret],
      toleranceSeconds: TIMESTAMP_TOLERANCE_SECONDS,
    });
    if (!result.ok) {
      const code = { missing: "SIGNATURE_MISSING", invalid: "SIGNATURE_INVALID", stale: "TIMESTAMP_STALE" }[
        result.reason
      ];
      throw new InboundRefusal(401, code, `signature check failed: ${result.reason}`);
    }
    return result.msgId;
  }
  const github = headers["x-hub-signature-256"];
  if (github !== undefined) {
    const result = verifyGitHubSignature({
      header: Array.isArray(github) ? github[0] : github,
      body,
      secrets: [secret],
    });
    if (!result.ok)
      throw new InboundRefusal(
        401,
        result.reason === "missing" ? "SIGNATURE_MISSING" : "SIGNATURE_INVALID",
        `signature check failed: ${result.reason}`,
      );
    return null;
  }
  throw new InboundRefusal(
    401,
    "SIGNATURE_MISSING",
    "send webhook-id, webhook-timestamp and webhook-signature, or X-Hub-Signature-256",
  );
}

function parsePayload(agent: InboundAgent, body: Buffer): unknown {
  let payload: unknown;
  try {
    payload = JSON.parse(body.toString("utf8"));
  } catch {
    throw new InboundRefusal(400, "INVALID_JSON", "the body is not JSON");
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

/**
 * POST /agents/:id/webhook. Checked in this order: size (413), agent (404) and status (403), the agent's rate (429
 * with Retry-After), signature (401), JSON and the payload schema (400), and a webhook-id already accepted (401
 * REPLAYED, checked in the transaction that stores the request, see acceptance.ts); accepted requests are stored as
 * executions and queued in one transaction (202). Refusals are logged at warn with agent, code and source address, never the
 * body or the secret.
 */
export async function handleAgentWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  agentId: string,
  logger: Logger,
): Promise<void> {
  const sourceIp = req.socket.remoteAddress ?? null;
  try {
    if (req.method !== "POST")
      throw new InboundRefusal(405, "METHOD_NOT_ALLOWED", "POST the webhook", undefined, { allow: "POST" });
    const body = await readBody(req);
    if (!isUuid(agentId)) throw new InboundRefusal(404, "AGENT_NOT_FOUND", "no agent with that id");
    const executionId = await receiveWithCurrentAgent(agentId, req, body, sourceIp);
    forgetOldMessageIds();
    inboundRequestsTotal.inc({ result: "accepted" });
    sendJson(res, 202, { status: "queued", executionId });
  } catch (error) {
    if (!(error instanceof InboundRefusal)) throw error;
    inboundRequestsTotal.inc({ result: error.code.toLowerCase() });
    if (error.status === 413) res.setHeader("connection", "close");
    logger.warn({ agentId, code: error.code, ip: sourceIp }, "inbound webhook refused");
    if (error.agent) await announceRefusal(error.agent, error, sourceIp, logger);
    sendJsonError(
      res,
      error.status,
      { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) },
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
): Promise<string> {
  const remembered = rememberedAgents.get(agentId);
  let agent = remembered ?? (await currentAgent(agentId));
  // A refusal decided on the row just read stands; one decided on a remembered row is confirmed first.
  let justRead = remembered === undefined;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await receive(agent, req, body, sourceIp);
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
): Promise<string> {
  await admitRequest(agent);
  const messageId = await verifySignature(agent, req, body);
  const payload = parsePayload(agent, body);
  const headers = keptHeaders(agent, req);
  const stored = await accept({ agent, payload, rawBody: body.toString("utf8"), headers, sourceIp, messageId });
  if (stored.accepted) return stored.executionId;
  if (stored.reason === "agent_changed") throw new AgentChanged();
  throw new InboundRefusal(401, "REPLAYED", "this webhook-id was already accepted");
}

/** Rate-limit refusals reach the console at most this often per agent: a flood must not flood the feed too. */
const RATE_LIMITED_ANNOUNCE_MS = 10_000;
const lastRateLimitedAnnounce = new Map<string, number>();

/** Tells the tenant's console about a refused request (for an agent that exists: unknown ids have no tenant). */
async function announceRefusal(
  agent: Agent,
  refusal: InboundRefusal,
  sourceIp: string | null,
  logger: Logger,
): Promise<void> {
  if (refusal.status === 429) {
    const last = lastRateLimitedAnnounce.get(agent.id) ?? 0;
    if (Date.now() - last < RATE_LIMITED_ANNOUNCE_MS) return;
    lastRateLimitedAnnounce.set(agent.id, Date.now());
  }
  await recordConsoleEvent({
    tenantId: agent.tenantId,
    kind: "INBOUND_REJECTED",
    agentId: agent.id,
    data: { agentName: agent.name, status: refusal.status, code: refusal.code, sourceIp },
  }).catch((error: unknown) => logger.warn({ err: error }, "could not record the refusal in the console"));
}

/** Ids older than the timestamp window can never be replayed successfully; forget them now and then. */
function forgetOldMessageIds(): void {
  if (Math.random() >= 0.001) return;
  void pool
    .query(`DELETE FROM "InboundMessage" WHERE "receivedAt" < now() - interval '10 minutes'`)
    .catch(() => undefined);
}
