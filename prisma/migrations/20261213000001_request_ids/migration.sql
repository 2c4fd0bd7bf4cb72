-- Request ids (x-request-id, or one the server makes): the audit entries a request causes and the events it
-- publishes carry it, so that one id finds a request's logs, its audit trail and the deliveries of its events.
ALTER TABLE "AuditEntry" ADD COLUMN "requestId" TEXT;
ALTER TABLE "Event" ADD COLUMN "requestId" TEXT;
