-- Endpoint custom header values are credentials (endpoint authentication) and are now encrypted at rest, like
-- signing secrets. SQL cannot encrypt with the master keyring, so this migration only makes room:
--   * "headerNames": the names, shown in full in listings (values are masked), filled from the old column;
--   * "sealedHeaders": the values as a compact JWE (dir, A256GCM) under the master key, written by the application;
--   * "legacyPlaintextHeaders": the old plaintext column, renamed. Every process seals what is left in it at start-up
--     and clears it (src/modules/endpoints/endpoint-headers.ts); until then the readers use it as it is, so nothing
--     stops being sent in between. Rows without headers hold NULL at once.
ALTER TABLE "Endpoint" RENAME COLUMN "headers" TO "legacyPlaintextHeaders";
ALTER TABLE "Endpoint" ALTER COLUMN "legacyPlaintextHeaders" DROP NOT NULL;
ALTER TABLE "Endpoint" ALTER COLUMN "legacyPlaintextHeaders" DROP DEFAULT;
UPDATE "Endpoint" SET "legacyPlaintextHeaders" = NULL WHERE "legacyPlaintextHeaders" = '{}'::jsonb;

ALTER TABLE "Endpoint" ADD COLUMN "headerNames" TEXT[];
ALTER TABLE "Endpoint" ADD COLUMN "sealedHeaders" TEXT;
UPDATE "Endpoint" SET "headerNames" = COALESCE(
    ARRAY(SELECT jsonb_object_keys("legacyPlaintextHeaders")),
    ARRAY[]::TEXT[]
);
