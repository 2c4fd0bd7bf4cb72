import jsonata from "jsonata";
import { z } from "zod";
import { ValidationError } from "../../lib/errors.js";
import { isUuid, localId, toGlobalId } from "../../lib/ids.js";
import { compileSchema } from "../../lib/json-schema.js";
import { JsonataSandbox } from "../../lib/jsonata-sandbox.js";

/**
 * An action an agent runs on each accepted payload: publish it (transformed) as an event, forward the original
 * request (body as received, plus the headers named) to one of the tenant's endpoints through the outbound pipeline,
 * or relay it to live subscribers (a developer's `signalpost listen` on a laptop).
 */
export type AgentAction =
  | { type: "emitEvent"; eventType: string }
  | { type: "forward"; endpointId: string; headers: string[] }
  | { type: "relay" };

const actionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("relay") }),
  z.object({
    type: z.literal("emitEvent"),
    eventType: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, "is not an event type name"),
  }),
  z.object({
    type: z.literal("forward"),
    endpointId: z.string().uuid("is not an endpoint id"),
    headers: z
      .array(
        z
          .string()
          .regex(/^[A-Za-z0-9-]{1,100}$/, "is not a header name")
          .transform((name) => name.toLowerCase()),
      )
      .max(20)
      .default([]),
  }),
]);

/** Headers a forward may never copy: they would forge our signature, break framing or leak credentials. */
export const UNFORWARDABLE_HEADERS = new Set([
  "authorization",
  "cookie",
  "host",
  "content-length",
  "content-type",
  "user-agent",
  "transfer-encoding",
  "connection",
]);

/** JSONata evaluation limits: a transform is the tenant's code. */
export const TRANSFORM_LIMITS = { timeout: 250, stack: 200 };

/**
 * What one transform may use: its heap, its wall-clock time (JSONata's own limit is checked between steps; a single
 * native step that runs past the kill limit has its process killed) and the size of its result. A legitimate
 * transform of a 1 MB payload (the inbound limit) fits well inside these.
 */
export const TRANSFORM_SANDBOX_LIMITS = {
  heapMb: 64,
  killAfterMs: 2_000,
  maxResultChars: 1_000_000,
};

/**
 * Transforms run in child processes, never in the worker's own heap: a transform that allocates without end once ran
 * the worker process out of memory, and its job came back to do it again. Two children at most, the cores we plan
 * for; started on the first transform, not on import.
 */
const sandbox = new JsonataSandbox({
  size: 2,
  timeoutMs: TRANSFORM_LIMITS.timeout,
  stack: TRANSFORM_LIMITS.stack,
  ...TRANSFORM_SANDBOX_LIMITS,
});

/**
 * Checks an action list: emitEvent, forward (to one of the tenant's endpoints) and relay (to live subscribers of
 * agentWebhookReceived).
 * @throws ValidationError naming `actions.<index>...`.
 */
export function checkActions(actions: unknown): AgentAction[] {
  if (!Array.isArray(actions)) throw new ValidationError("actions must be a list", "actions");
  if (actions.length > 20) throw new ValidationError("at most 20 actions", "actions");
  return actions.map((action, index) => {
    const parsed = actionSchema.safeParse(action);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(
        `${issue?.path.join(".") || "action"} ${issue?.message ?? "is invalid"}`,
        `actions.${index}${issue?.path.length ? `.${issue.path.join(".")}` : ""}`,
      );
    }
    const bad =
      parsed.data.type === "forward"
        ? parsed.data.headers.find((name) => UNFORWARDABLE_HEADERS.has(name) || name.startsWith("webhook-"))
        : undefined;
    if (bad) throw new ValidationError(`${bad} cannot be forwarded`, `actions.${index}.headers`);
    return parsed.data;
  });
}

/** Checks a JSONata transform compiles. @throws ValidationError on `transform` with JSONata's message and position. */
export function checkTransform(transform: string | null | undefined): string | null {
  if (!transform?.trim()) return null;
  if (transform.length > 10_000) throw new ValidationError("transform must be at most 10000 characters", "transform");
  try {
    jsonata(transform, TRANSFORM_LIMITS);
  } catch (error) {
    const { message, position } = error as { message?: string; position?: number };
    throw new ValidationError(
      `${message ?? "invalid JSONata"}${position !== undefined ? ` (at character ${position})` : ""}`,
      "transform",
    );
  }
  return transform;
}

/** Checks a payload schema compiles (draft 2020-12). @throws ValidationError on `payloadSchema`. */
export function checkPayloadSchema(schema: unknown): unknown {
  if (schema === null || schema === undefined) return null;
  compileSchema(schema, "payloadSchema");
  return schema;
}

/**
 * Runs a transform in the sandbox, with the time, stack, memory and result limits.
 * @throws TransformError (jsonata-sandbox.ts) with the reason it failed.
 */
export async function runTransform(transform: string, payload: unknown): Promise<unknown> {
  return sandbox.evaluate(transform, payload);
}

/** Each `forward` action's endpointId run through `convert`; anything else (even malformed input) as it is. */
function mapForwardIds(actions: unknown, convert: (endpointId: string) => string): unknown {
  if (!Array.isArray(actions)) return actions;
  return actions.map((action) =>
    action && typeof action === "object" && action.type === "forward" && typeof action.endpointId === "string"
      ? { ...action, endpointId: convert(action.endpointId) }
      : action,
  );
}

/**
 * Actions as the API shows them: a forward names its endpoint by the endpoint's global id. Rows keep the uuid, like
 * every other reference between rows.
 */
export function actionsForApi(actions: unknown): unknown {
  return mapForwardIds(actions, (endpointId) => (isUuid(endpointId) ? toGlobalId("Endpoint", endpointId) : endpointId));
}

/**
 * Actions as a caller sent them, with each forward's endpoint global id turned into the row's uuid. An id that names
 * no endpoint becomes one that is not a uuid, which `checkActions` refuses on `actions.<index>.endpointId`.
 */
export function actionsFromApi(actions: unknown): unknown {
  return mapForwardIds(actions, (endpointId) => localId("Endpoint", endpointId));
}

/** An execution's result as the API shows it: the events its actions published named by their global ids. */
export function executionResultForApi(result: unknown): unknown {
  if (!result || typeof result !== "object" || !Array.isArray((result as { actions?: unknown }).actions)) return result;
  const { actions } = result as { actions: unknown[] };
  return {
    ...result,
    actions: actions.map((action) =>
      action &&
      typeof action === "object" &&
      typeof (action as { eventId?: unknown }).eventId === "string" &&
      isUuid((action as { eventId: string }).eventId)
        ? { ...action, eventId: toGlobalId("Event", (action as { eventId: string }).eventId) }
        : action,
    ),
  };
}
