import type { ExecutionResult } from "graphql";
import { createGraphQLServer } from "../../src/http/yoga.js";

let yoga: ReturnType<typeof createGraphQLServer> | undefined;

/** Runs one GraphQL operation in-process through Yoga's fetch API (the same pipeline as HTTP, minus the socket). */
export async function execute<Data = Record<string, unknown>>(
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<ExecutionResult<Data> & { status: number }> {
  yoga ??= createGraphQLServer();
  const response = await yoga.fetch("http://signalpost.test/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { ...((await response.json()) as ExecutionResult<Data>), status: response.status };
}
