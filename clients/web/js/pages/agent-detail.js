import { gql } from "../api.js";
import { clearErrors, confirmDialog, copy, field, h, say, showError } from "../dom.js";
import { actionsForm } from "./agent-actions.js";
import { executionsSection } from "./agent-executions.js";
import { schemaForm } from "./agent-schema.js";
import { regenerateSecretButton, testForm } from "./agents.js";

/** One agent: status, secret, actions and transform, payload schema, test webhook and executions. */
const QUERY = `query ($id: ID!) {
  agent(id: $id) { __typename
    ... on Agent { id name description status webhookUrl maskedSecret payloadSchema examplePayload transform actions
      rateLimitPerMinute verification { scheme senderSends } }
    ... on Error { code message } }
  examplePayloadSchemas { name description schema }
  eventTypes(first: 200) { edges { node { name } } }
  endpoints(first: 100) { edges { node { id name } } } }`;

const STATUS_CHANGES = [
  ["ACTIVE", "Activate", "accepts webhooks again"],
  ["SUSPENDED", "Suspend", "is paused: its URL answers 403"],
  ["INACTIVE", "Deactivate", "is retired: its URL answers 403"],
];

function statusControls(agent, reload) {
  return h(
    "div",
    { class: "actions", role: "group", "aria-label": "Status" },
    STATUS_CHANGES.map(([status, label, effect]) =>
      h(
        "button",
        {
          type: "button",
          disabled: agent.status === status,
          onclick: async () => {
            const { updateAgent: result } = await gql(
              `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
                __typename ... on Agent { status } ... on Error { code message } } }`,
              { id: agent.id, input: { status } },
            );
            if (result.code) return say(`${result.code}: ${result.message}`, { error: true });
            say(`${agent.name} ${effect}`);
            await reload();
            document.querySelector("[data-agent-status]")?.focus();
          },
        },
        label,
      ),
    ),
  );
}

/** The schemes, as the API names them, with the sender each is for. */
const SCHEMES = [
  ["STANDARD_WEBHOOKS", "Standard Webhooks (Svix and others)"],
  ["GITHUB", "GitHub"],
  ["HMAC_SHA256", "Generic HMAC-SHA256 (Jira-style, in-house)"],
  ["STRIPE", "Stripe"],
  ["SHOPIFY", "Shopify"],
  ["SLACK", "Slack"],
];

/** How the agent verifies its sender: the scheme picker, what the sender must send, and the sender's own secret. */
function verificationForm(agent, reload) {
  const select = h(
    "select",
    { name: "scheme", id: "verification-scheme" },
    SCHEMES.map(([value, label]) => h("option", { value, selected: agent.verification.scheme === value }, label)),
  );
  const sends = h(
    "p",
    { class: "muted", "data-testid": "sender-sends" },
    `The sender sends ${agent.verification.senderSends}`,
  );
  // Stripe, Shopify, Slack and Svix make the secret; GitHub takes one chosen for it. Either way it can be given here.
  const secret = field(
    "The sender's signing secret, when it made one (replaces the agent's at once; leave empty to keep it)",
    "secret",
    { type: "password", autocomplete: "off" },
  );
  const form = h(
    "form",
    { "aria-label": `Verification of ${agent.name}` },
    h("h3", {}, "Verification"),
    h("label", { for: "verification-scheme" }, "Scheme"),
    select,
    sends,
    secret,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save verification")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const given = form.elements.namedItem("secret").value.trim();
    const verification = { scheme: select.value, ...(given ? { secret: given } : {}) };
    const { updateAgent: result } = await gql(
      `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
        __typename ... on Agent { verification { scheme } } ... on Error { code message field } } }`,
      { id: agent.id, input: { verification } },
    );
    if (result.code) return showError(form, result);
    clearErrors(form);
    say(`${agent.name} verifies ${select.selectedOptions[0]?.textContent ?? select.value} requests`);
    await reload();
    document.getElementById("verification-scheme")?.focus();
  });
  return form;
}

/**
 * The masked secret with Show/Hide and Copy (each reveal is audited and limited; Copy leaves the page as it was) and
 * Regenerate, under the warning that the secret lets anyone sign requests this agent accepts.
 */
function secretControls(agent) {
  const value = h("span", { class: "mono", "data-testid": "agent-secret" }, agent.maskedSecret);
  const once = h("div");
  const toggle = h("button", { type: "button", "aria-pressed": "false" }, "Show secret");
  toggle.addEventListener("click", async () => {
    if (toggle.getAttribute("aria-pressed") === "true") {
      value.textContent = agent.maskedSecret;
      toggle.setAttribute("aria-pressed", "false");
      toggle.textContent = "Show secret";
      return;
    }
    const { revealAgentSecret: result } = await gql(
      `mutation ($id: ID!) { revealAgentSecret(id: $id) { __typename
        ... on AgentSecret { secret } ... on Error { code message } } }`,
      { id: agent.id },
    );
    if (result.code) return say(`${result.code}: ${result.message}`, { error: true });
    value.textContent = result.secret;
    toggle.setAttribute("aria-pressed", "true");
    toggle.textContent = "Hide secret";
    say("Secret shown (this is audited)");
  });
  const copySecret = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        const { revealAgentSecret: result } = await gql(
          `mutation ($id: ID!) { revealAgentSecret(id: $id) { __typename
            ... on AgentSecret { secret } ... on Error { code message } } }`,
          { id: agent.id },
        );
        if (result.code) return say(`${result.code}: ${result.message}`, { error: true });
        await copy(result.secret, "Secret copied (this is audited)");
      },
    },
    "Copy secret",
  );
  const regenerate = regenerateSecretButton(agent, once, (maskedSecret) => {
    agent.maskedSecret = maskedSecret;
    value.textContent = maskedSecret;
    toggle.setAttribute("aria-pressed", "false");
    toggle.textContent = "Show secret";
  });
  return [
    h("p", {}, "Secret: ", value, " ", toggle, " ", copySecret, " ", regenerate),
    h(
      "p",
      { class: "warning", "data-testid": "secret-warning" },
      "Keep this secret safe: anyone who has it can send requests this agent accepts. Store it only in the sender's settings or a secret manager.",
    ),
    once,
  ];
}

function deleteButton(agent) {
  return h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        if (
          !(await confirmDialog(`Delete ${agent.name}? Its URL stops answering and its executions go too.`, "Delete"))
        )
          return;
        const { deleteAgent: result } = await gql(
          "mutation ($id: ID!) { deleteAgent(id: $id) { __typename ... on Error { code message } } }",
          { id: agent.id },
        );
        if (result.code) return say(`${result.code}: ${result.message}`, { error: true });
        // Said after the app's own hashchange handler, which clears the status line for the next page.
        window.addEventListener("hashchange", () => setTimeout(() => say(`${agent.name} deleted`)), { once: true });
        location.hash = "#/agents";
      },
    },
    "Delete agent",
  );
}

export async function agentDetailPage(view, id) {
  const data = await gql(QUERY, { id });
  const { agent } = data;
  if (agent.code) {
    view.replaceChildren(
      h("h2", {}, "Agent"),
      h("p", { role: "alert" }, agent.message),
      h("p", {}, h("a", { href: "#/agents" }, "Back to agents")),
    );
    return;
  }
  const context = {
    eventTypes: data.eventTypes.edges.map(({ node }) => node.name),
    endpoints: data.endpoints.edges.map(({ node }) => node),
  };
  const reload = () => agentDetailPage(view, id);
  const executions = executionsSection(agent);
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/agents" }, "← Agents")),
    h("h2", {}, `Agent ${agent.name}`),
    agent.description ? h("p", { class: "muted" }, agent.description) : "",
    h(
      "p",
      {},
      "Status: ",
      h("strong", { "data-agent-status": agent.status, tabindex: -1 }, agent.status),
      ` · ${agent.rateLimitPerMinute} requests a minute`,
    ),
    statusControls(agent, reload),
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
          "aria-label": "Copy webhook URL",
          onclick: () => copy(agent.webhookUrl, "Webhook URL copied"),
        },
        "Copy",
      ),
    ),
    ...secretControls(agent),
    h("div", { class: "card" }, verificationForm(agent, reload)),
    h(
      "div",
      { class: "columns" },
      h("div", { class: "card" }, actionsForm(agent, context)),
      h("div", { class: "card" }, h("h3", {}, "Payload schema"), schemaForm(agent, data.examplePayloadSchemas)),
    ),
    h("div", { class: "card" }, h("h3", {}, "Test webhook"), testForm(agent)),
    executions.element,
    h("h3", {}, "Danger zone"),
    deleteButton(agent),
  );
  await executions.load();
}
