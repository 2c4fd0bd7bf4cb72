/** What replaces the password (or a lone user name) of a URL shown to a reader. */
const MASK = "****";

/**
 * A URL with its userinfo masked for display: `https://user:pass@host/` becomes `https://user:****@host/`, and a lone
 * user name (often a token, `https://token@host/`) becomes `****`. Endpoint URLs with credentials are refused when
 * saved (custom headers are the place for them), but rows from before that rule, and any URL shown in events, may
 * still carry some. URLs without an `@` are returned as they are, without parsing (this runs per console event).
 */
export function maskUrlCredentials(url: string): string {
  if (!url.includes("@")) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL we can take apart: show nothing of what may be a credential.
    return url.replace(/\/\/[^/?#]*@/, `//${MASK}@`);
  }
  if (!parsed.username && !parsed.password) return url;
  if (parsed.password) parsed.password = MASK;
  else parsed.username = MASK;
  return parsed.toString();
}
