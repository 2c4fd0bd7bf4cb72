import type { IncomingMessage } from "node:http";
import { createYoga, type YogaServerInstance } from "graphql-yoga";
import { logger } from "../logger.js";
import { schema } from "../schema.js";
import type { GraphQLContext } from "./context.js";

/** What the Node HTTP server hands Yoga with each request (and what the WebSocket server passes for each message). */
export interface ServerContext {
  req: IncomingMessage;
}

/** The client address: the socket's, since we do not trust X-Forwarded-For without a configured proxy. */
export function clientIp(req: IncomingMessage | undefined): string | null {
  return req?.socket.remoteAddress ?? null;
}

/**
 * The GraphQL server: HTTP (GET/POST), GraphiQL, and the execution pipeline the WebSocket transport reuses through
 * `yoga.getEnveloped`, so both transports share plugins, context and error masking.
 */
export function createGraphQLServer(): YogaServerInstance<ServerContext, GraphQLContext> {
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: "/graphql",
    // Subscriptions in GraphiQL go over graphql-ws on the same path.
    graphiql: { subscriptionsProtocol: "WS", title: "Signalpost GraphiQL" },
    landingPage: false,
    maskedErrors: true,
    logging: {
      debug: (...args) => logger.debug({ args }, "yoga"),
      info: (...args) => logger.info({ args }, "yoga"),
      warn: (...args) => logger.warn({ args }, "yoga"),
      error: (...args) => logger.error({ args }, "yoga"),
    },
    context: ({ req }): GraphQLContext => ({
      viewer: null,
      ip: clientIp(req),
      userAgent: req?.headers["user-agent"] ?? null,
    }),
  });
}
