import { type AddressPolicy, checkUrlAtSave } from "../../lib/address-guard.js";
import { ValidationError } from "../../lib/errors.js";
import { HEADER_VALUE_MASK } from "./endpoint-headers.js";
import { normaliseRetryPolicy } from "./retry-policy.js";

/** The fields a caller may set on an endpoint (all optional on update). */
export interface EndpointFields {
  name?: string;
  url?: string;
  description?: string | null;
  eventTypes?: readonly string[];
  headers?: Record<string, unknown> | null;
  timeoutMs?: number;
  retryPolicy?: { delaysSeconds: readonly number[]; maxAttempts?: number | null } | null;
  verifyTls?: boolean;
}

/** The same fields, checked and in the shape the Endpoint row stores. */
export interface CheckedEndpointFields {
  name?: string;
  url?: string;
  description?: string | null;
  eventTypes?: string[];
  headers?: Record<string, string>;
  timeoutMs?: number;
  retrySchedule?: number[];
  retryPolicyCustom?: boolean;
  verifyTls?: boolean;
}

const EVENT_TYPE_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
/** Headers Signalpost sets itself: a custom header must not forge the signature or break the framing. */
const RESERVED_HEADERS = new Set([
  "content-type",
  "content-length",
  "host",
  "user-agent",
  "transfer-encoding",
  "connection",
]);
const MAX_HEADERS = 20;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the tab is exactly what is allowed here.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_HEADER_VALUE = 1_024;

/**
 * Checks every field that is present. The URL goes through the address guard (scheme, credentials, literal private or
 * loopback addresses under `urlPolicy`, the instance's rules); names are resolved again at connect time.
 * @throws ValidationError naming the field (`url`, `headers.X-Foo`, `retryPolicy.maxAttempts`...).
 */
export function checkEndpointFields(
  input: EndpointFields,
  urlPolicy: AddressPolicy & { requireHttps: boolean },
): CheckedEndpointFields {
  const checked: CheckedEndpointFields = {};
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (!name || name.length > 100) throw new ValidationError("name must be 1 to 100 characters", "name");
    checked.name = name;
  }
  if (input.url !== undefined) checked.url = checkUrlAtSave(input.url.trim(), urlPolicy);
  if (input.description !== undefined) {
    if (input.description && input.description.length > 1_000) {
      throw new ValidationError("description must be at most 1000 characters", "description");
    }
    checked.description = input.description || null;
  }
  if (input.eventTypes !== undefined) {
    if (input.eventTypes.length > 100) throw new ValidationError("at most 100 event types", "eventTypes");
    const bad = input.eventTypes.find((name) => !EVENT_TYPE_NAME.test(name));
    if (bad !== undefined) throw new ValidationError(`"${bad}" is not an event type name`, "eventTypes");
    checked.eventTypes = [...new Set(input.eventTypes)];
  }
  if (input.headers !== undefined) checked.headers = checkHeaders(input.headers ?? {});
  if (input.timeoutMs !== undefined) {
    if (!Number.isInteger(input.timeoutMs) || input.timeoutMs < 1_000 || input.timeoutMs > 30_000) {
      throw new ValidationError("timeoutMs must be between 1000 and 30000", "timeoutMs");
    }
    checked.timeoutMs = input.timeoutMs;
  }
  if (input.retryPolicy !== undefined) {
    checked.retrySchedule = input.retryPolicy === null ? [] : normaliseRetryPolicy(input.retryPolicy);
    checked.retryPolicyCustom = input.retryPolicy !== null;
  }
  if (input.verifyTls !== undefined) checked.verifyTls = input.verifyTls;
  return checked;
}

function checkHeaders(headers: Record<string, unknown>): Record<string, string> {
  if (typeof headers !== "object" || Array.isArray(headers)) {
    throw new ValidationError("headers must be an object of header names to string values", "headers");
  }
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) throw new ValidationError(`at most ${MAX_HEADERS} headers`, "headers");
  const checked: Record<string, string> = {};
  for (const [name, value] of entries) {
    const field = `headers.${name}`;
    if (!HEADER_NAME.test(name)) throw new ValidationError(`"${name}" is not a valid header name`, field);
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || lower.startsWith("webhook-")) {
      throw new ValidationError(`${name} is set by Signalpost and cannot be overridden`, field);
    }
    if (typeof value !== "string") throw new ValidationError("header values must be strings", field);
    // The mask sent back (a form that read the endpoint) means "keep the stored value"; the service resolves it.
    if (value === HEADER_VALUE_MASK) {
      checked[name] = value;
      continue;
    }
    if (value.length > MAX_HEADER_VALUE || /[\r\n\0]/.test(value)) {
      throw new ValidationError(`the value must be at most ${MAX_HEADER_VALUE} characters without line breaks`, field);
    }
    // What HTTP allows in a field value (visible ASCII, space, tab, Latin-1): anything else would make every delivery
    // fail in the HTTP client, and it keeps the mask (not Latin-1) from ever being a stored value.
    if (!FIELD_VALUE.test(value))
      throw new ValidationError("the value may hold only visible ASCII, spaces, tabs and Latin-1 characters", field);
    checked[name] = value;
  }
  return checked;
}
