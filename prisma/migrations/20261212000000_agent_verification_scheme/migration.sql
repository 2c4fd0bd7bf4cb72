-- Each agent verifies its sender by one scheme (src/modules/agents/verification-schemes.ts). New agents verify
-- Standard Webhooks. Agents from before accepted either Standard Webhooks or GitHub's X-Hub-Signature-256: those whose
-- accepted requests were all GitHub's (an execution kept X-GitHub-Delivery, or a GitHub delivery id is remembered for
-- replays) verify GITHUB from now on, so that their sender keeps working; every other agent verifies Standard
-- Webhooks, which is what all the others received. The panel's and API's test webhooks (sendTestWebhook signed
-- Standard Webhooks with ids msg_test_...) say nothing about the real sender and are not counted.
CREATE TYPE "VerificationScheme" AS ENUM ('STANDARD_WEBHOOKS', 'GITHUB', 'HMAC_SHA256', 'STRIPE', 'SHOPIFY', 'SLACK');

ALTER TABLE "Agent" ADD COLUMN "verificationScheme" "VerificationScheme" NOT NULL DEFAULT 'STANDARD_WEBHOOKS';

UPDATE "Agent" a SET "verificationScheme" = 'GITHUB'
WHERE (
    EXISTS (SELECT 1 FROM "AgentExecution" e WHERE e."agentId" = a.id AND e.headers ? 'x-github-delivery')
    OR EXISTS (SELECT 1 FROM "InboundMessage" m WHERE m."agentId" = a.id AND m."messageId" LIKE 'github:%')
  )
  AND NOT EXISTS (
    SELECT 1 FROM "AgentExecution" e
    WHERE e."agentId" = a.id AND e.headers ? 'webhook-id' AND e.headers ->> 'webhook-id' NOT LIKE 'msg\_test\_%'
  )
  AND NOT EXISTS (
    SELECT 1 FROM "InboundMessage" m
    WHERE m."agentId" = a.id AND m."messageId" NOT LIKE 'github:%' AND m."messageId" NOT LIKE 'msg\_test\_%'
  );
