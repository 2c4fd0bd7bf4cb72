-- CreateEnum
CREATE TYPE "ConsoleEventKind" AS ENUM ('ATTEMPT_SUCCEEDED', 'ATTEMPT_FAILED', 'RETRY_SCHEDULED', 'DELIVERY_DEAD', 'TEST_SENT', 'ENDPOINT_DISABLED', 'ENDPOINT_ENABLED', 'API_KEY_USED', 'API_KEY_CREATED', 'API_KEY_REVOKED', 'SECRET_REVEALED', 'SECRET_REGENERATED', 'INBOUND_ACCEPTED', 'INBOUND_REJECTED', 'EXECUTION_UPDATED');

-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "usageAnnouncedAt" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "ConsoleEvent" (
    "id" BIGSERIAL NOT NULL,
    "txid" BIGINT NOT NULL DEFAULT (pg_current_xact_id())::text::bigint,
    "tenantId" UUID NOT NULL,
    "kind" "ConsoleEventKind" NOT NULL,
    "endpointId" UUID,
    "deliveryId" UUID,
    "agentId" UUID,
    "executionId" UUID,
    "apiKeyId" UUID,
    "data" JSONB NOT NULL DEFAULT '{}',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ConsoleEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InstanceSettings" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "values" JSONB NOT NULL DEFAULT '{}',
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "InstanceSettings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TenantSettings" (
    "tenantId" UUID NOT NULL,
    "values" JSONB NOT NULL DEFAULT '{}',
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TenantSettings_pkey" PRIMARY KEY ("tenantId")
);

-- CreateIndex
CREATE INDEX "ConsoleEvent_tenantId_txid_id_idx" ON "ConsoleEvent"("tenantId", "txid", "id");

-- CreateIndex
CREATE INDEX "ConsoleEvent_txid_id_idx" ON "ConsoleEvent"("txid", "id");

-- CreateIndex
CREATE INDEX "ConsoleEvent_createdAt_idx" ON "ConsoleEvent"("createdAt");

-- AddForeignKey
ALTER TABLE "ConsoleEvent" ADD CONSTRAINT "ConsoleEvent_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "TenantSettings" ADD CONSTRAINT "TenantSettings_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;
