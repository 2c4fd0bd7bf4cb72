import { GraphQLError } from "graphql";
import { isUuid } from "./ids.js";

/**
 * Expected failures, returned to callers as typed GraphQL results through the errors plugin (never masked), or as
 * JSON error envelopes on plain HTTP routes. Anything else that is thrown is unexpected and stays masked.
 */
export abstract class AppError extends Error {
  abstract readonly code: string;
  /** The input field the error is about, when there is one (a dotted path such as `input.url`). */
  readonly field: string | null;

  constructor(message: string, field: string | null = null) {
    super(message);
    this.name = new.target.name;
    this.field = field;
  }
}

/**
 * A failure the operator can act on at start-up (a taken port, a data directory in use, migrations that disagree with
 * the database): the CLI prints its message as one line and exits 1, with no stack trace.
 */
export class OperatorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is malformed or breaks a rule; `field` names the offending input. */
export class ValidationError extends AppError {
  readonly code = "VALIDATION_FAILED";
  /** The bound the input went over, when the refusal is about one (a size, a count, a depth). */
  readonly limit: number | null;

  constructor(message: string, field: string | null = null, options: { limit?: number } = {}) {
    super(message, field);
    this.limit = options.limit ?? null;
  }
}

/** The object does not exist, or belongs to another tenant (the two are indistinguishable on purpose). */
export class NotFoundError extends AppError {
  readonly code = "NOT_FOUND";
}

/**
 * The one way a domain looks up a tenant's object by id: the row `find` reads, or NotFoundError (field `id`, "No
 * <what> with that id") when there is none. A malformed id is not looked up (it can name no row, and PostgreSQL would
 * refuse it as a uuid); another tenant's object is not found either, since `find` filters on the tenant.
 */
export async function findOrNotFound<T>(what: string, id: string, find: () => Promise<T | null>): Promise<T> {
  const row = isUuid(id) ? await find() : null;
  if (!row) throw new NotFoundError(`No ${what} with that id`, "id");
  return row;
}

/** The change would break a uniqueness rule or the object's current state forbids it. */
export class ConflictError extends AppError {
  readonly code = "CONFLICT";
}

/** The caller lacks a scope this particular input needs (instance-wide settings need `admin`); `field` names it. */
export class ForbiddenError extends AppError {
  readonly code = "FORBIDDEN";
}

/** Too many requests; try again after `retryAfterSeconds`. */
export class RateLimitedError extends AppError {
  readonly code = "RATE_LIMITED";

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/**
 * Subscriptions have no typed result unions: an expected failure (a bad argument, an unknown id) ends the operation
 * with a GraphQL error carrying the same code and field the typed result would have.
 */
export function subscriptionError(error: AppError): GraphQLError {
  return new GraphQLError(error.message, { extensions: { code: error.code, field: error.field } });
}
