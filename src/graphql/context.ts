import type { SubscriptionHub } from "../db/pubsub.js";
import { AppError, subscriptionError } from "../lib/errors.js";

export { subscriptionError };

import { closableIterator } from "../lib/closable-iterator.js";
import type { Keyring } from "../lib/master-key.js";
import { type AuditActor, actorOf, type Viewer } from "../modules/identity/viewer.js";

export type { Viewer };

/**
 * The app context's long-lived services a resolver may need, handed to the GraphQL server when it is built (see
 * src/app-context.ts) instead of read from module singletons. Each domain adds its own field by declaration merging
 * (`declare module` in its schema file), so that this folder imports no domain and folders stay free of cycles.
 */
export interface ContextServices {
  /** The master keyring: secrets are sealed under its current key and opened with the key they name. */
  keyring: Keyring;
  /** Events published by any process, for subscriptions: API processes have it (src/app-context.ts starts it). */
  subscriptions?: SubscriptionHub;
}

/** Per-request (or per-WebSocket-operation) context shared by every resolver. */
export interface GraphQLContext {
  /** The process's services (the console feed...), the same object for every request. */
  services: ContextServices;
  /** The authenticated caller; null for anonymous requests, which reach only public fields. */
  viewer: Viewer | null;
  /** The caller's address, for audit entries and rate limits. */
  ip: string | null;
  userAgent: string | null;
}

/**
 * The context of a field declared with `t.withAuth(...)` (see src/builder.ts): scope-auth runs before the resolver
 * and lets in only an authenticated caller, so the viewer is there.
 */
export interface AuthenticatedContext extends GraphQLContext {
  viewer: Viewer;
}

/**
 * The viewer of a field that needs only some credential and declares no scope of its own (`viewer`,
 * `createSession`): the root types' authScopes run before resolvers, so a missing viewer here is a programming error,
 * not a caller's mistake. Fields with a scope use `t.withAuth` instead, whose context already has the viewer.
 */
export function requireViewer(context: GraphQLContext): Viewer {
  if (!context.viewer) throw new Error("resolver reached without an authenticated viewer");
  return context.viewer;
}

/**
 * The process's subscription hub. Every API process starts one before it serves (src/app-context.ts), so its absence
 * is a wiring mistake, not a caller's.
 */
export function subscriptionsOf(context: GraphQLContext): SubscriptionHub {
  if (!context.services.subscriptions) throw new Error("this process serves subscriptions without a subscription hub");
  return context.services.subscriptions;
}

/** Where a change comes from, as audit entries record it: the viewer as actor, with address and user agent. */
export function originOf(context: AuthenticatedContext): {
  actor: AuditActor;
  ip: string | null;
  userAgent: string | null;
} {
  return { actor: actorOf(context.viewer), ip: context.ip, userAgent: context.userAgent };
}

/**
 * A subscription's stream whose expected failures (an {@link AppError} thrown mid-stream) end it as GraphQL errors.
 * Its return() ends `closes` (the live feed under `stream`, whose pending read then ends) and `stream` at once, so a
 * subscriber that completes while idle does not keep its listener (counted against the process's cap).
 */
export function withSubscriptionErrors<T>(
  stream: AsyncIterable<T>,
  closes?: { return?(): unknown },
): AsyncIterableIterator<T> {
  const inner = stream[Symbol.asyncIterator]();
  const mapError = (error: unknown): never => {
    if (error instanceof AppError) throw subscriptionError(error);
    throw error;
  };
  return closableIterator(
    () => inner.next().catch(mapError),
    async () => {
      await closes?.return?.();
      await inner.return?.();
    },
  );
}
