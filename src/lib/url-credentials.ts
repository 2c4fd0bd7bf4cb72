import { ValidationError } from "./errors.js";

/** What replaces the password (or a lone user name) and each query parameter's value of a URL shown to a reader. */
export const URL_VALUE_MASK = "****";

/**
 * A URL with its credentials masked for display: userinfo (`https://user:pass@host/` becomes `https://user:****@host/`,
 * and a lone user name, often a token, becomes `****`) and every query parameter's value (`?token=s3cret&sig=abc`
 * becomes `?token=****&sig=****`; a parameter without `=`, which may be a token itself, becomes `****`). Receivers
 * authenticate senders with query strings as often as with headers, so values are credentials; names stay, so an
 * operator can see which parameters exist. Works on the text as stored, without re-encoding it, and returns URLs
 * with neither `@` nor `?` as they are, without parsing (this runs per console event).
 */
export function maskUrlCredentials(url: string): string {
  return maskQueryValues(maskUserinfo(url));
}

function maskUserinfo(url: string): string {
  if (!url.includes("@")) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL we can take apart: show nothing of what may be a credential.
    return url.replace(/\/\/[^/?#]*@/, `//${URL_VALUE_MASK}@`);
  }
  if (!parsed.username && !parsed.password) return url;
  if (parsed.password) parsed.password = URL_VALUE_MASK;
  else parsed.username = URL_VALUE_MASK;
  return parsed.toString();
}

/** Where a URL's query is: the text between `?` and the fragment, if it has one. */
function querySpan(url: string): { start: number; end: number } | null {
  const hash = url.indexOf("#");
  const end = hash === -1 ? url.length : hash;
  const question = url.indexOf("?");
  if (question === -1 || question >= end) return null;
  return { start: question + 1, end };
}

interface QueryParameter {
  /** Null for a parameter without `=` (`?token`): all of it is the value. */
  name: string | null;
  value: string;
}

function parseQuery(query: string): QueryParameter[] {
  return query.split("&").map((part) => {
    const equals = part.indexOf("=");
    return equals === -1 ? { name: null, value: part } : { name: part.slice(0, equals), value: part.slice(equals + 1) };
  });
}

function formatQuery(parameters: QueryParameter[]): string {
  return parameters.map(({ name, value }) => (name === null ? value : `${name}=${value}`)).join("&");
}

/** Empty values (`?a=&&`) hide nothing and stay as they are, so the masked URL shows the same shape. */
function maskValue(value: string): string {
  return value === "" ? value : URL_VALUE_MASK;
}

function maskQueryValues(url: string): string {
  const span = querySpan(url);
  if (!span) return url;
  const masked = parseQuery(url.slice(span.start, span.end)).map(({ name, value }) => ({
    name,
    value: maskValue(value),
  }));
  return `${url.slice(0, span.start)}${formatQuery(masked)}${url.slice(span.end)}`;
}

/** Whether a URL carries a query parameter sent back as the mask. */
export function hasMaskedQueryValue(url: string): boolean {
  const span = querySpan(url);
  return span !== null && parseQuery(url.slice(span.start, span.end)).some(({ value }) => value === URL_VALUE_MASK);
}

/**
 * Puts the stored values back where a URL read masked was sent back (`?token=****`): the n-th parameter of a name
 * that came back masked takes the value of the n-th parameter of that name in `stored` (parameters without `=` are
 * matched among themselves by position). So a client that read the endpoint and sends its URL back with one thing
 * changed keeps the real query. Only for the stored URL's origin: pointed elsewhere, the values must be sent again, or
 * an `endpoints:write` key could send the endpoint to its own host and read them off a test send, around the
 * audited reveal. @throws ValidationError on `field` for a masked value with nothing stored, or a new origin.
 */
export function restoreMaskedQueryValues(url: string, stored: string, field = "url"): string {
  const span = querySpan(url);
  if (!span || !hasMaskedQueryValue(url)) return url;
  if (new URL(url).origin !== new URL(stored).origin)
    throw new ValidationError("the URL's origin changes: send the query parameter values again", field);
  const storedSpan = querySpan(stored);
  const storedParameters = storedSpan ? parseQuery(stored.slice(storedSpan.start, storedSpan.end)) : [];
  const seen = new Map<string | null, number>();
  const restored = parseQuery(url.slice(span.start, span.end)).map((parameter) => {
    const occurrence = seen.get(parameter.name) ?? 0;
    seen.set(parameter.name, occurrence + 1);
    if (parameter.value !== URL_VALUE_MASK) return parameter;
    const kept = storedParameters.filter(({ name }) => name === parameter.name)[occurrence];
    if (!kept || kept.value === "")
      throw new ValidationError(
        `send the value of query parameter ${parameter.name ?? `#${occurrence + 1} without a name`}, not the mask`,
        field,
      );
    return kept;
  });
  return `${url.slice(0, span.start)}${formatQuery(restored)}${url.slice(span.end)}`;
}

/**
 * A JSON record (console event data, audit metadata) as a reader sees it: its `url`, when it is a string, masked like
 * {@link maskUrlCredentials}. Writers mask already; this covers rows written before query values were masked, which
 * stay as stored. Anything else is returned as it is.
 */
export function withMaskedUrl<T>(record: T): T {
  if (record === null || typeof record !== "object" || Array.isArray(record)) return record;
  const { url } = record as { url?: unknown };
  return typeof url === "string" ? { ...record, url: maskUrlCredentials(url) } : record;
}
