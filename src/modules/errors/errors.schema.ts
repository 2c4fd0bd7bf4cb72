import { builder } from "../../builder.js";
import {
  type AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
} from "../../lib/errors.js";

/** The interface every typed error result implements, so clients can always read `code` and `message`. */
export const ErrorInterface = builder.interfaceRef<AppError>("Error").implement({
  description: "An expected failure, returned as data instead of a top-level error.",
  fields: (t) => ({
    code: t.exposeString("code", {
      description: "Machine-readable: VALIDATION_FAILED, NOT_FOUND, CONFLICT, FORBIDDEN or RATE_LIMITED.",
    }),
    message: t.exposeString("message", { description: "What went wrong, for a person to read." }),
    field: t.exposeString("field", { nullable: true, description: "The input field at fault, if any." }),
  }),
});

builder.objectType(ValidationError, {
  name: "ValidationError",
  description: "An input was refused: `field` names it and `message` says what is allowed.",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    limit: t.exposeInt("limit", {
      nullable: true,
      description: "The bound the input went over (bytes, a count, a depth), when the refusal is about one.",
    }),
  }),
});

builder.objectType(NotFoundError, {
  name: "NotFoundError",
  description: "No such object for this tenant (another tenant's objects are answered the same way).",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: () => ({}),
});

builder.objectType(ConflictError, {
  name: "ConflictError",
  description: "The change conflicts with the current state (a name taken, an object in the wrong state).",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: () => ({}),
});

builder.objectType(ForbiddenError, {
  name: "ForbiddenError",
  description: "The caller's key lacks the scope this input needs (instance settings need instance:admin).",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ForbiddenError,
  fields: () => ({}),
});

builder.objectType(RateLimitedError, {
  name: "RateLimitedError",
  description: "Too many of these operations for now; try again after `retryAfterSeconds`.",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof RateLimitedError,
  fields: (t) => ({
    retryAfterSeconds: t.exposeInt("retryAfterSeconds", {
      description: "Seconds to wait before the operation is allowed again.",
    }),
  }),
});
