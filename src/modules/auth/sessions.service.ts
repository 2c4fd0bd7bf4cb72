import { ValidationError } from "../../lib/errors.js";
import { recordAudit } from "../audit/audit.service.js";
import { grants, type Scope } from "../identity/scopes.js";
import type { RequestOrigin, Viewer } from "../identity/viewer.js";
import type { Authenticator } from "./authenticate.js";

/**
 * Issues a session token for the API key the viewer called with, holding `requested` (a subset of the key's scopes;
 * all of them when null), and records it in the audit log.
 * @throws ValidationError (field `scopes`) for a scope the key does not hold, or for none at all.
 */
export async function createSession(
  viewer: Viewer & { apiKeyId: string },
  requested: readonly Scope[] | null,
  origin: RequestOrigin,
  authenticator: Pick<Authenticator, "issueSession">,
): Promise<{ token: string; expiresAt: Date }> {
  const scopes = requested ? [...requested] : [...viewer.scopes];
  const beyond = scopes.find((scope) => !grants(viewer.scopes, scope));
  if (beyond) throw new ValidationError(`the key does not hold "${beyond}"`, "scopes");
  if (scopes.length === 0) throw new ValidationError("a session needs at least one scope", "scopes");
  const session = await authenticator.issueSession({ tenantId: viewer.tenantId, apiKeyId: viewer.apiKeyId, scopes });
  await recordAudit({
    tenantId: viewer.tenantId,
    ...origin,
    action: "session.created",
    target: { type: "ApiKey", id: viewer.apiKeyId },
    metadata: { scopes, expiresAt: session.expiresAt.toISOString() },
  });
  return session;
}
