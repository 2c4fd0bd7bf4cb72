-- API processes keep the key rows they authenticate with (src/modules/api-keys/api-key-rows.ts) while they LISTEN
-- on signalpost_api_key_changes: every change that matters to authentication announces the key's id there, from
-- whatever makes it (the API, the CLI, a tenant's deletion cascading, plain SQL). lastUsedAt and usageAnnouncedAt,
-- written by authentication itself, do not notify. The notice is sent when the transaction commits.
CREATE FUNCTION "signalpost_api_key_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('signalpost_api_key_changes', OLD.id::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER "ApiKey_changes"
  AFTER UPDATE OF "revokedAt", "expiresAt", "scopes", "secretHash", "name", "tenantId", "id" OR DELETE ON "ApiKey"
  FOR EACH ROW EXECUTE FUNCTION "signalpost_api_key_changed"();
