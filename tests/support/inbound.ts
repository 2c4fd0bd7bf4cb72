import { randomBytes } from "node:crypto";
import { signWebhook } from "../../src/lib/webhook-signature.js";

/** POSTs `body` to an agent's webhook URL, signed as a Standard Webhooks sender would with a fresh message id. */
export function postSignedWebhook(baseUrl: string, agentId: string, secret: string, body: string): Promise<Response> {
  return fetch(`${baseUrl}/agents/${agentId}/webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...signWebhook({
        msgId: `msg_${randomBytes(6).toString("hex")}`,
        timestamp: new Date(),
        body,
        secrets: [secret],
      }),
    },
    body,
  });
}
