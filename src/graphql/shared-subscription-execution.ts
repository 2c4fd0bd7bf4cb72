import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute,
  GraphQLError,
  getOperationAST,
  getVariableValues,
  print,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { closableIterator } from "../lib/closable-iterator.js";
import { subscriptionResultsTotal } from "../lib/metrics.js";
import type { GraphQLContext } from "./context.js";

/**
 * "Execute once, send many" for subscriptions. graphql-js runs a subscription's whole selection once per subscriber
 * per event (MapSourceToResponseEvent); with 1,000 subscribers of one topic that is 1,000 identical executions of the
 * same notice, and execution (resolvers, envelop, result building) was the largest share of the server's CPU in the
 * bench's subscription phase after the rows were read once (notice-reads.ts).
 *
 * Here each subscriber still creates its own source stream (its `subscribe` resolver: its tenant's topic, its own
 * filters, its own scope check), but an event is executed once per distinct audience: the same event object, the same
 * operation text and variables, the same tenant and the same scopes. A notice reaches every subscriber of its topic
 * as one and the same object (pubsub.ts), so subscribers of one tenant running one client's document share one result;
 * events made per subscriber (a replay, a mapped item) are new objects and execute for that subscriber alone.
 *
 * Sharing is sound because a subscription payload's fields read nothing of the context but the viewer's tenant and
 * scopes (and the process's services): the Viewer type with the credential's own fields is reachable from Query only,
 * which tests/live/subscription-sharing.test.ts checks on the schema, so a new field that breaks this fails there.
 * The shared execution also runs with a context holding only those (see audienceContext).
 */

/** What a shared execution depends on besides the event: everything else in the context is the process's. */
function audienceOf(args: ExecutionArgs): string | null {
  const { viewer } = args.contextValue as GraphQLContext;
  if (!viewer) return null;
  return JSON.stringify([
    viewer.tenantId,
    [...viewer.scopes].sort(),
    viewer.method,
    operationText(args.document),
    args.operationName ?? null,
    args.variableValues ?? null,
  ]);
}

/** The operation's text: a document parsed from a query string keeps it, so printing is only a fallback. */
const printed = new WeakMap<DocumentNode, string>();
function operationText(document: DocumentNode): string {
  const body = document.loc?.source.body;
  if (body !== undefined) return body;
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Results per event object, by audience; gone with the event once no subscriber's queue holds it. */
const resultsOfEvent = new WeakMap<object, Map<string, Result>>();

const executed = subscriptionResultsTotal.labels("executed");
const shared = subscriptionResultsTotal.labels("shared");

/**
 * The context a shared execution runs with: the process's services and the viewer's tenant and scopes, nothing of the
 * one subscriber who happened to read the event first (its address, its key, its actor), so a resolver that read them
 * would get nulls rather than another subscriber's. New for each execution, as a request's context is.
 */
function audienceContext(context: GraphQLContext): GraphQLContext {
  const { viewer } = context;
  return {
    services: context.services,
    viewer: viewer && {
      tenantId: viewer.tenantId,
      scopes: viewer.scopes,
      method: viewer.method,
      apiKeyId: null,
      actorId: "subscription",
      actorName: null,
      expiresAt: null,
    },
    ip: null,
    userAgent: null,
  };
}

function executeEvent(args: ExecutionArgs, audience: string | null, event: unknown): Result {
  const run = () => {
    executed.inc();
    const contextValue = audience === null ? args.contextValue : audienceContext(args.contextValue as GraphQLContext);
    return execute({ ...args, contextValue, rootValue: event }) as Result;
  };
  if (audience === null || typeof event !== "object" || event === null) return run();
  let results = resultsOfEvent.get(event);
  if (!results) {
    results = new Map();
    resultsOfEvent.set(event, results);
  }
  let result = results.get(audience);
  if (result) shared.inc();
  else {
    result = run();
    results.set(audience, result);
  }
  return result;
}

/**
 * The caller's mistakes in the operation's arguments (no such operation, variables missing or of the wrong type),
 * with the code and status Yoga's executor gives them for queries and mutations: BAD_USER_INPUT, 400.
 */
function invalidArguments(args: ExecutionArgs): ExecutionResult | null {
  const operation = getOperationAST(args.document, args.operationName);
  const coerced = operation
    ? getVariableValues(args.schema, operation.variableDefinitions ?? [], args.variableValues ?? {}, { maxErrors: 50 })
    : null;
  const errors = !operation
    ? [
        new GraphQLError(
          args.operationName
            ? `Unknown operation named "${args.operationName}".`
            : "Must provide operation name if query contains multiple operations.",
        ),
      ]
    : coerced?.errors;
  if (!errors?.length) return null;
  return {
    errors: errors.map(
      (error) =>
        new GraphQLError(error.message, {
          nodes: error.nodes,
          originalError: error.originalError,
          extensions: { ...error.extensions, code: "BAD_USER_INPUT", http: { status: 400 } },
        }),
    ),
  };
}

/**
 * graphql-js's subscribe (CreateSourceEventStream, then MapSourceToResponseEvent) with the per-event execution shared
 * as above. Errors before the stream exists come back as one result, as graphql-js's subscribe returns them.
 */
export async function subscribeSharingExecution(
  args: ExecutionArgs,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const refused = invalidArguments(args);
  if (refused) return refused;
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source as ExecutionResult;
  const audience = audienceOf(args);
  const events = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  // Not an async generator, so that a subscriber completing while idle ends its source at once.
  return closableIterator(
    async () => {
      const step = await events.next();
      if (step.done) return { done: true, value: undefined };
      return { done: false, value: await executeEvent(args, audience, step.value) };
    },
    async () => events.return?.(),
  );
}

/** Every subscription of the server (WebSocket and SSE) subscribes through {@link subscribeSharingExecution}. */
export function useSharedSubscriptionExecution(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribeSharingExecution as never);
    },
  };
}
