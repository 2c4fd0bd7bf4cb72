import { gql } from "../api.js";
import { confirmDialog, copy, field, h, say, showError } from "../dom.js";

const FIELDS = "id name status webhookUrl maskedSecret payloadSchema rateLimitPerMinute";

function agentCard(agent, refresh) {
  const once = h("div");
  const schemaForm = h(
    "form",
    { "aria-label": `Payload schema of ${agent.name}` },
    field("Payload schema (JSON Schema 2020-12; empty for none)", "payloadSchema", {
      multiline: true,
      value: agent.payloadSchema ? JSON.stringify(agent.payloadSchema, null, 2) : "",
    }),
    h("button", { type: "submit" }, "Save schema"),
  );
  schemaForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = new FormData(schemaForm).get("payloadSchema").trim();
    let payloadSchema = null;
    try {
      payloadSchema = text ? JSON.parse(text) : null;
    } catch (error) {
      return showError(schemaForm, {
        code: "INVALID_JSON",
        message: `Not JSON: ${error.message}`,
        field: "payloadSchema",
      });
    }
    const { updateAgent } = await gql(
      `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) { __typename ... on Error { code message field } } }`,
      { id: agent.id, input: { payloadSchema } },
    );
    if (updateAgent.code) return showError(schemaForm, updateAgent);
    say(`Schema of ${agent.name} saved`);
  });
  const testForm = h(
    "form",
    { "aria-label": `Test webhook for ${agent.name}` },
    field("Test payload (JSON)", "payload", { multiline: true, value: "{}" }),
    h("button", { type: "submit" }, "Send test webhook"),
    h("p", { class: "muted", "data-testid": "test-result" }),
  );
  testForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    let payload;
    try {
      payload = JSON.parse(new FormData(testForm).get("payload"));
    } catch (error) {
      return showError(testForm, { code: "INVALID_JSON", message: `Not JSON: ${error.message}`, field: "payload" });
    }
    const { sendTestWebhook } = await gql(
      `mutation ($id: ID!, $payload: JSON!) { sendTestWebhook(agentId: $id, payload: $payload) {
        __typename ... on TestWebhookResult { statusCode body } ... on Error { code message field } } }`,
      { id: agent.id, payload },
    );
    if (sendTestWebhook.code) return showError(testForm, sendTestWebhook);
    testForm.querySelector("[data-testid=test-result]").textContent =
      `The agent answered ${sendTestWebhook.statusCode}: ${sendTestWebhook.body}`;
    say(`Test webhook answered ${sendTestWebhook.statusCode}`);
  });
  return h(
    "section",
    { class: "agent", "aria-label": agent.name },
    h("h3", {}, `${agent.name} `, h("span", { class: "muted" }, `(${agent.status}, ${agent.rateLimitPerMinute}/min)`)),
    h(
      "p",
      {},
      "Webhook URL: ",
      h("span", { class: "secret" }, agent.webhookUrl),
      " ",
      h("button", { type: "button", onclick: () => copy(agent.webhookUrl, "Webhook URL copied") }, "Copy"),
    ),
    h(
      "p",
      {},
      "Secret: ",
      h("span", { class: "secret" }, agent.maskedSecret),
      " ",
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: async () => {
            if (
              !(await confirmDialog(
                `Regenerate the secret of ${agent.name}? The current one stops working at once.`,
                "Regenerate",
              ))
            )
              return;
            const { regenerateAgentSecret: result } = await gql(
              `mutation ($id: ID!) { regenerateAgentSecret(id: $id) { __typename ... on CreatedAgent { secret } ... on Error { code message } } }`,
              { id: agent.id },
            );
            if (result.code) return say(result.message, { error: true });
            once.replaceChildren(
              h(
                "div",
                { class: "once", role: "alert" },
                h("p", {}, "New secret — shown only now:"),
                h("p", { class: "secret" }, result.secret),
                h(
                  "button",
                  { type: "button", onclick: () => copy(result.secret, "Secret copied").then(refresh) },
                  "Copy and hide",
                ),
              ),
            );
          },
        },
        "Regenerate",
      ),
    ),
    once,
    schemaForm,
    testForm,
  );
}

export async function agentsPage(main) {
  const { agents } = await gql(`{ agents(first: 50) { edges { node { ${FIELDS} } } } }`);
  const refresh = () => agentsPage(main);
  const form = h(
    "form",
    { "aria-label": "Add agent" },
    h("h3", {}, "Add an agent"),
    field("Name", "name", { required: true }),
    h("button", { type: "submit", class: "primary" }, "Add agent"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { createAgent } = await gql(
      `mutation ($input: CreateAgentInput!) { createAgent(input: $input) { __typename ... on Error { code message field } } }`,
      { input: { name: new FormData(form).get("name"), status: "ACTIVE" } },
    );
    if (createAgent.code) return showError(form, createAgent);
    say("Agent added");
    refresh();
  });
  const list = agents.edges.map((edge) => agentCard(edge.node, refresh));
  main.replaceChildren(
    h("h2", {}, "Agents"),
    form,
    ...(list.length ? list : [h("p", { class: "muted" }, "No agents yet.")]),
  );
}
