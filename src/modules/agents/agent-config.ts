import jsonata from "jsonata";
import { z } from "zod";
import { ValidationError } from "../../lib/errors.js";
import { compileSchema } from "../../lib/json-schema.js";

/** An action an agent runs on each accepted payload. */
export type AgentAction = { type: "emitEvent"; eventType: string };

const actionSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("emitEvent"),
    eventType: z.string().regex(/^[A-Za-z0-9_.:-]{1,100}$/, "is not an event type name"),
  }),
]);

/** JSONata evaluation limits: a transform is the tenant's code running in our process. */
export const TRANSFORM_LIMITS = { timeout: 250, stack: 200 };

/**
 * Checks an action list. `forward` and `relay` (delivering the original request onwards, and relaying it to live
 * subscribers) are not available yet and are refused by name rather than silently ignored.
 * @throws ValidationError naming `actions.<index>...`.
 */
export function checkActions(actions: unknown): AgentAction[] {
  if (!Array.isArray(actions)) throw new ValidationError("actions must be a list", "actions");
  if (actions.length > 20) throw new ValidationError("at most 20 actions", "actions");
  return actions.map((action, index) => {
    const type = (action as { type?: unknown })?.type;
    if (type === "forward" || type === "relay") {
      throw new ValidationError(`the ${type} action is not available yet; use emitEvent`, `actions.${index}.type`);
    }
    const parsed = actionSchema.safeParse(action);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(
        `${issue?.path.join(".") || "action"} ${issue?.message ?? "is invalid"}`,
        `actions.${index}${issue?.path.length ? `.${issue.path.join(".")}` : ""}`,
      );
    }
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

/** Runs a transform with the time and stack limits. @throws when it fails or runs too long. */
export async function runTransform(transform: string, payload: unknown): Promise<unknown> {
  return jsonata(transform, TRANSFORM_LIMITS).evaluate(payload);
}
