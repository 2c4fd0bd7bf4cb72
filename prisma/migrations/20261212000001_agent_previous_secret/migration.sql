-- regenerateAgentSecret may keep the old secret verifying for a grace period (gracePeriodSeconds), as endpoints'
-- secret rotation does, so that a sender can switch without a refused request: the old secret, sealed like the
-- current one, and when it stops verifying.
ALTER TABLE "Agent" ADD COLUMN "previousEncryptedSecret" TEXT;
ALTER TABLE "Agent" ADD COLUMN "previousSecretExpiresAt" TIMESTAMPTZ(3);
