import { gql } from "../api.js";
import {
  clearErrors,
  confirmDialog,
  copy,
  detailHref,
  field,
  h,
  parseJsonField,
  say,
  showError,
  shownOnce,
} from "../dom.js";
import { schemaForm } from "./agent-schema.js";

const FIELDS = "id name status webhookUrl maskedSecret payloadSchema examplePayload rateLimitPerMinute";

/** Sends a signed test request through the agent's own URL and shows what it answered. */
export function testForm(agent) {
  const result = h("p", { class: "muted", "data-testid": "test-result", "aria-live": "polite" });
  const form = h(
    "form",
    { "aria-label": `Test webhook for ${agent.name}` },
    field("Test payload (JSON)", "payload", {
      multiline: true,
      spellcheck: "false",
      // Built from the agent's schema, so the first test passes it (a bare {} broke every schema with `required`).
      value: JSON.stringify(agent.examplePayload ?? {}, null, 2),
    }),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Send test webhook")),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = parseJsonField(form, "payload");
    if (payload === undefined) return;
    const { sendTestWebhook: sent } = await gql(
      `mutation ($id: ID!, $payload: JSON!) { sendTestWebhook(agentId: $id, payload: $payload) {
        __typename ... on TestWebhookResult { statusCode body } ... on Error { code message field } } }`,
      { id: agent.id, payload },
    );
    if (sent.code) return showError(form, sent);
    clearErrors(form);
    result.textContent = `The agent answered ${sent.statusCode}: ${JSON.stringify(sent.body)}`;
    say(`Test webhook to ${agent.name} answered ${sent.statusCode}`);
  });
  return form;
}

/**
 * "Regenerate secret" for one agent, asked for confirmation: the new secret is shown once in `once`, and
 * `onRegenerated` gets the new masked form. Used by the agents list and the agent's page.
 */
export function regenerateSecretButton(agent, once, onRegenerated) {
  return h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        const confirmed = await confirmDialog(
          `Regenerate the secret of ${agent.name}? The current one stops working at once.`,
          "Regenerate",
        );
        if (!confirmed) return;
        const { regenerateAgentSecret: result } = await gql(
          `mutation ($id: ID!) { regenerateAgentSecret(id: $id) { __typename
            ... on CreatedAgent { secret agent { maskedSecret } } ... on Error { code message } } }`,
          { id: agent.id },
        );
        if (result.code) return say(result.message, { error: true });
        onRegenerated(result.agent.maskedSecret);
        once.replaceChildren(
          shownOnce(`New secret of ${agent.name}`, result.secret, () => once.replaceChildren(), {
            keepAfterCopy: true,
          }),
        );
        once.querySelector("button")?.focus();
        say(`Secret of ${agent.name} regenerated`);
      },
    },
    "Regenerate secret",
  );
}

function agentCard(agent) {
  const once = h("div");
  const masked = h("span", { class: "mono", "data-testid": "masked-secret" }, agent.maskedSecret);
  const regenerate = regenerateSecretButton(agent, once, (maskedSecret) => {
    masked.textContent = maskedSecret;
  });
  return h(
    "section",
    { class: "card", "aria-label": agent.name },
    h(
      "h3",
      {},
      agent.name,
      " ",
      h("span", { class: "muted" }, `(${agent.status}, ${agent.rateLimitPerMinute}/min)`),
      " ",
      h("a", { href: detailHref("agents", agent.id), class: "manage" }, `Manage ${agent.name}`),
    ),
    h(
      "p",
      {},
      "Webhook URL: ",
      h("span", { class: "mono" }, agent.webhookUrl),
      " ",
      h(
        "button",
        {
          type: "button",
          "aria-label": `Copy webhook URL of ${agent.name}`,
          onclick: () => copy(agent.webhookUrl, "Webhook URL copied"),
        },
        "Copy",
      ),
    ),
    h("p", {}, "Secret: ", masked, " ", regenerate),
    once,
    h("div", { class: "columns" }, schemaForm(agent), testForm(agent)),
  );
}

/** `created`, right after an add, is the new agent's name and secret: the only time the API returns it in full. */
export async function agentsPage(view, created) {
  const { agents } = await gql(`{ agents(first: 50) { edges { node { ${FIELDS} } } } }`);
  const form = h(
    "form",
    { "aria-label": "Add agent" },
    h("h3", {}, "Add an agent"),
    field("Name", "name", { required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add agent")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { createAgent: result } = await gql(
      `mutation ($input: CreateAgentInput!) { createAgent(input: $input) {
        __typename ... on CreatedAgent { secret agent { name } } ... on Error { code message field } } }`,
      { input: { name: new FormData(form).get("name"), status: "ACTIVE" } },
    );
    if (result.code) return showError(form, result);
    say(`Agent ${result.agent.name} added`);
    await agentsPage(view, { name: result.agent.name, secret: result.secret });
  });
  const once = h("div");
  if (created) {
    once.append(
      shownOnce(`Secret of ${created.name}`, created.secret, () => once.replaceChildren(), { keepAfterCopy: true }),
    );
  }
  const cards = agents.edges.map((edge) => agentCard(edge.node));
  view.replaceChildren(
    h("h2", {}, "Agents"),
    form,
    once,
    ...(cards.length ? cards : [h("p", { class: "muted" }, "No agents yet.")]),
  );
  once.querySelector("button")?.focus();
}
