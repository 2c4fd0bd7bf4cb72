import type { Scope } from "./scopes.js";

/** How the caller proved who they are. */
export type AuthMethod = "api_key" | "session" | "external";

/** The authenticated caller of one request or WebSocket operation. */
export interface Viewer {
  tenantId: string;
  scopes: readonly Scope[];
  method: AuthMethod;
  /** The API key used directly, or the one a session was created from; null for external tokens. */
  apiKeyId: string | null;
  /** Who acts, as the audit log names them. */
  actorId: string;
  actorName: string | null;
  /** When a session or external token stops being valid. */
  expiresAt: Date | null;
}

/** Who did it, as audit entries name them: a credential, or the system itself (bootstrap, jobs) or the command line. */
export interface AuditActor {
  type: AuthMethod | "system" | "cli";
  id: string | null;
  name: string | null;
}

/** The actor a viewer acts as. */
export function actorOf(viewer: Viewer): AuditActor {
  return { type: viewer.method, id: viewer.actorId, name: viewer.actorName };
}

/** Where a change came from, for its audit entry. */
export interface RequestOrigin {
  actor: AuditActor;
  ip?: string | null;
  userAgent?: string | null;
}
