/**
 * The child process of the JSONata sandbox (jsonata-sandbox.ts): evaluates one expression at a time for its parent,
 * under the heap limit the parent started it with. It imports nothing of ours but the message types, so an
 * out-of-memory abort here costs this process only.
 */
import jsonata from "jsonata";
import type { SandboxReply, SandboxRequest } from "./jsonata-sandbox.protocol.js";

// Agents keep their transform for many executions: each distinct expression is compiled once. Insertion order makes
// the Map a cheap LRU-ish cache (the oldest entry goes first).
const COMPILED_CACHE_SIZE = 200;
const compiled = new Map<string, jsonata.Expression>();

function compile(expression: string, limits: SandboxRequest["limits"]): jsonata.Expression {
  let found = compiled.get(expression);
  if (!found) {
    found = jsonata(expression, { timeout: limits.timeoutMs, stack: limits.stack });
    if (compiled.size >= COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
    compiled.set(expression, found);
  }
  return found;
}

async function evaluate(request: SandboxRequest): Promise<SandboxReply> {
  try {
    const result = await compile(request.expression, request.limits).evaluate(JSON.parse(request.input));
    const json = result === undefined ? undefined : JSON.stringify(result);
    if (json !== undefined && json.length > request.limits.maxResultChars) {
      return {
        id: request.id,
        ok: false,
        code: "TRANSFORM_RESULT_TOO_LARGE",
        message: `the transform's result is ${json.length} characters of JSON, over the limit of ${request.limits.maxResultChars}`,
      };
    }
    return { id: request.id, ok: true, json };
  } catch (error) {
    // JSONata throws plain objects with a code (D1012 is its own timeout) as well as Errors.
    const { code, message } = error as { code?: string; message?: string };
    return {
      id: request.id,
      ok: false,
      code: code === "D1012" ? "TRANSFORM_TIMEOUT" : "TRANSFORM_FAILED",
      message: message ?? String(error),
    };
  }
}

process.on("message", (request: SandboxRequest) => {
  void evaluate(request).then((reply) => process.send?.(reply));
});
// The parent went away (exited, crashed, was killed): nothing is left to work for.
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });
