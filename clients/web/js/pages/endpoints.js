import { gql } from "../api.js";
import { confirmDialog, copy, dataTable, h, say, shownOnce } from "../dom.js";
import { endpointForm } from "./endpoint-form.js";
import { healthSummary, sendTestToAll } from "./endpoint-health.js";

const WINDOW = "attempts successRate p50Ms p95Ms p99Ms";
const FIELDS = `id name url description eventTypes enabled disabledReason secret { masked }
  headers timeoutMs verifyTls warnings retryPolicy { delaysSeconds maxAttempts isDefault }
  health { state consecutiveFailures lastHour { ${WINDOW} } lastDay { ${WINDOW} } }`;

async function loadEndpoints() {
  const { endpoints } = await gql(`{ endpoints(first: 100) { edges { node { ${FIELDS} } } } }`);
  return endpoints.edges.map((edge) => edge.node);
}

/** Runs a mutation aliased `result`; says what happened and resolves with the result (an Error result included). */
async function run(mutation, variables, success) {
  const { result } = await gql(mutation, variables);
  if (result.code) say(`${result.code}: ${result.message}`, { error: true });
  else say(success(result));
  return result;
}

/** One row: the endpoint, its masked secret with Reveal/Rotate, and its actions. */
function endpointRow(endpoint, { reload, showSecret, openForm }) {
  const testResult = h("span", { "data-testid": "test-result" }, "—");
  const secretActions = [
    h(
      "button",
      {
        type: "button",
        onclick: async () => {
          const revealed = await run(
            `mutation ($id: ID!) { result: revealEndpointSecret(id: $id) { __typename
              ... on RevealedSecret { secret } ... on Error { code message } } }`,
            { id: endpoint.id },
            () => "Secret revealed (this is audited)",
          );
          if (revealed.secret) showSecret(`Secret of ${endpoint.name}`, revealed.secret);
        },
      },
      "Reveal",
    ),
    h(
      "button",
      {
        type: "button",
        onclick: async () => {
          const confirmed = await confirmDialog(
            `Rotate the secret of ${endpoint.name}? The old one keeps signing too for 24 hours.`,
            "Rotate",
          );
          if (!confirmed) return;
          const rotated = await run(
            `mutation ($id: ID!) { result: rotateEndpointSecret(id: $id) { __typename
              ... on RotatedSecret { secret } ... on Error { code message } } }`,
            { id: endpoint.id },
            () => `Secret of ${endpoint.name} rotated`,
          );
          if (rotated.secret) {
            await reload();
            showSecret(`New secret of ${endpoint.name}`, rotated.secret);
          }
        },
      },
      "Rotate",
    ),
  ];
  const toggle = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        const mutation = endpoint.enabled ? "disableEndpoint" : "enableEndpoint";
        await run(
          `mutation ($id: ID!) { result: ${mutation}(id: $id) { __typename ... on Error { code message } } }`,
          { id: endpoint.id },
          () => `${endpoint.name} ${endpoint.enabled ? "disabled" : "enabled"}`,
        );
        await reload();
      },
    },
    endpoint.enabled ? "Disable" : "Enable",
  );
  const sendTest = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        testResult.textContent = "sending…";
        const sent = await run(
          `mutation ($id: ID!) { result: sendTestEvent(endpointId: $id) { __typename
            ... on SendResult { statusCode durationMs error { class message } } ... on Error { code message } } }`,
          { id: endpoint.id },
          (result) => `Test sent to ${endpoint.name}: ${describeAnswer(result)}`,
        );
        testResult.textContent = sent.code ? sent.message : describeAnswer(sent);
      },
    },
    "Send test",
  );
  const remove = h(
    "button",
    {
      type: "button",
      class: "danger",
      onclick: async () => {
        if (!(await confirmDialog(`Delete ${endpoint.name}? Its deliveries and attempts go too.`, "Delete"))) return;
        await run(
          `mutation ($id: ID!) { result: deleteEndpoint(id: $id) { __typename ... on Error { code message } } }`,
          { id: endpoint.id },
          () => `${endpoint.name} deleted`,
        );
        await reload();
      },
    },
    "Delete",
  );
  const edit = h("button", { type: "button", onclick: () => openForm(endpoint) }, "Edit");
  return h(
    "tr",
    { "data-endpoint": endpoint.name },
    h(
      "th",
      { scope: "row" },
      endpoint.name,
      endpoint.description ? h("div", { class: "muted" }, endpoint.description) : "",
    ),
    h(
      "td",
      {},
      h("span", { class: "mono" }, endpoint.url),
      " ",
      h(
        "button",
        {
          type: "button",
          "aria-label": `Copy URL of ${endpoint.name}`,
          onclick: () => copy(endpoint.url, "URL copied"),
        },
        "Copy",
      ),
    ),
    h(
      "td",
      {},
      endpoint.enabled ? "Yes" : "No",
      endpoint.disabledReason ? ` (${endpoint.disabledReason})` : "",
      endpoint.warnings.map((warning) => h("div", { class: "bad", "data-testid": "warning" }, `⚠ ${warning}`)),
    ),
    h("td", { class: `state-${endpoint.health.state}` }, endpoint.health.state),
    h("td", {}, h("span", { class: "mono" }, endpoint.secret.masked), h("div", { class: "actions" }, secretActions)),
    h("td", {}, testResult),
    h("td", {}, h("div", { class: "actions" }, edit, toggle, sendTest, remove)),
  );
}

/** "200 in 12 ms", or the failure class when the receiver did not answer. */
function describeAnswer(result) {
  const answer = result.statusCode ?? `no answer (${result.error?.class ?? "error"})`;
  return `${answer} in ${result.durationMs} ms`;
}

export async function endpointsPage(view) {
  // Forms and shown-once secrets live here, outside the table, so reloading the table does not wipe them.
  const area = h("div", { class: "area" });
  const table = h("div");
  const results = h("div", { "data-testid": "test-all-results", "aria-live": "polite" });
  const showSecret = (title, secret) => {
    area.replaceChildren(shownOnce(title, secret, () => area.replaceChildren()));
    area.querySelector("button")?.focus();
  };
  const openForm = (endpoint) => {
    const onSaved = async (secret) => {
      await reload();
      if (secret) showSecret("Signing secret of the new endpoint", secret);
      else area.replaceChildren();
    };
    const health = endpoint ? healthSummary(endpoint) : null;
    area.replaceChildren(endpointForm(endpoint, { onSaved, onCancel: () => area.replaceChildren(), health }));
    area.querySelector("input")?.focus();
  };
  const reload = async () => {
    const endpoints = await loadEndpoints();
    const rows = endpoints.map((endpoint) => endpointRow(endpoint, { reload, showSecret, openForm }));
    table.replaceChildren(
      rows.length
        ? dataTable("Endpoints", ["Name", "URL", "Enabled", "Health", "Secret", "Last test", "Actions"], rows)
        : h("p", { class: "muted" }, "No endpoints yet."),
    );
  };
  await reload();
  view.replaceChildren(
    h("h2", {}, "Endpoints"),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "primary", onclick: () => openForm(null) }, "Add endpoint"),
      h("button", { type: "button", onclick: () => sendTestToAll(results) }, "Send test to all"),
    ),
    results,
    area,
    table,
  );
}
