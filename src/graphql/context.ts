/** Who is calling: filled in by authentication (API key or session); null for anonymous requests. */
export interface Viewer {
  tenantId: string;
  scopes: readonly string[];
}

/** Per-request (or per-WebSocket-operation) context shared by every resolver. */
export interface GraphQLContext {
  viewer: Viewer | null;
  /** The caller's address, for audit entries and rate limits. */
  ip: string | null;
  userAgent: string | null;
}
