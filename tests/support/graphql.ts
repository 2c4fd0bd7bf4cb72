import type { ExecutionResult } from "graphql";
import { type AppServices, createInstance } from "../../src/app-context.js";
import { createGraphQLServer } from "../../src/http/yoga.js";
import { parseMasterKeys } from "../../src/lib/master-key.js";
import { TEST_MASTER_KEY } from "./master-key.js";

/**
 * The app context's services as this test file has started them: its instance (the file's master key, production
 * outbound rules), to which startDelivering adds the outbound client and startLiveApiServer the console feed. The
 * GraphQL servers of the file (`execute` and the API listeners) read them from this one object, and every part the
 * file wires gets the same instance, as a server process's parts get its context's.
 */
export const testServices: AppServices = createInstance({
  keyring: parseMasterKeys(TEST_MASTER_KEY),
  authentication: { sessionTtlSeconds: 3_600 },
});

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
