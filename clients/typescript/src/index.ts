/** The Signalpost TypeScript SDK: typed documents for every operation, a client, live feeds and receiver checks. */

export { graphql } from "../generated/gql.js";
export * from "../generated/graphql.js";
export {
  type ConnectionStatus,
  createSignalpostClient,
  type LiveOptions,
  type SignalpostClient,
  type SignalpostClientOptions,
  SignalpostError,
} from "./client.js";
export {
  type ConsoleEvent,
  consoleEvents,
  type OutboundEvent,
  publishedEvents,
  type RelayedWebhook,
  relayedWebhooks,
} from "./feeds.js";
export {
  type VerifiedWebhook,
  type VerifyOptions,
  verifyWebhook,
  type WebhookVerificationCode,
  WebhookVerificationError,
} from "./verify-webhook.js";
