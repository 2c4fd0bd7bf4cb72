-- Listings show secrets masked (kind prefix and last four characters). The mask used to be computed by decrypting
-- every listed secret (and, for endpoints, one query per row for its newest secret); it is now stored when the
-- secret is written (created, rotated, regenerated), so listings decrypt nothing.
-- SQL cannot decrypt with the master keyring, so existing rows start NULL and every process fills them at start-up,
-- after migrations and before it serves (src/lib/secret-masks.ts). A row whose secret cannot be opened (its master
-- key is gone) stays NULL and is listed with a mask that shows no characters.
ALTER TABLE "EndpointSecret" ADD COLUMN "masked" TEXT;
ALTER TABLE "Agent" ADD COLUMN "maskedSecret" TEXT;
