import type { ExecutionResult } from "graphql";
import type { ContextServices } from "../../src/graphql/context.js";
import { createGraphQLServer } from "../../src/http/yoga.js";

/**
 * The app context's services as this test file has started them (startDelivering adds the outbound client,
 * startLiveApiServer the console feed): the GraphQL servers of the file (`execute` and the API listeners) read them
 * from this one object, as a server process's read its context's.
 */
export const testServices: ContextServices = {};

let yoga: ReturnType<typeof createGraphQLServer> | undefined;

/** Runs one GraphQL operation in-process through Yoga's fetch API (the same pipeline as HTTP, minus the socket). */
export async function execute<Data = Record<string, unknown>>(
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<ExecutionResult<Data> & { status: number }> {
  yoga ??= createGraphQLServer(testServices);
  const response = await yoga.fetch("http://signalpost.test/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { ...((await response.json()) as ExecutionResult<Data>), status: response.status };
}
