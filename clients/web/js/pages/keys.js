import { gql } from "../api.js";
import {
  checkbox,
  clearErrors,
  confirmDialog,
  dataTable,
  field,
  formatTime,
  h,
  isoFromLocal,
  say,
  showError,
  shownOnce,
} from "../dom.js";

const KEY_FIELDS = "id name maskedKey lastChars scopes status createdAt expiresAt lastUsedAt revokedAt";

/** ENDPOINTS_READ -> endpoints:read, the spelling used everywhere else (docs, CLI, error messages). */
function scopeLabel(scope) {
  return scope.toLowerCase().replace("_", ":");
}

function keyRow(key, reload) {
  const revoke = h(
    "button",
    {
      type: "button",
      class: "danger",
      "aria-label": `Revoke ${key.name}`,
      onclick: async () => {
        if (!(await confirmDialog(`Revoke ${key.name}? Requests and sessions using it fail at once.`, "Revoke")))
          return;
        const { revokeApiKey } = await gql(
          "mutation ($id: ID!) { revokeApiKey(id: $id) { __typename ... on Error { code message } } }",
          { id: key.id },
        );
        if (revokeApiKey.code) say(revokeApiKey.message, { error: true });
        else say(`${key.name} revoked`);
        await reload();
      },
    },
    "Revoke",
  );
  return h(
    "tr",
    { "data-key": key.name },
    h("th", { scope: "row" }, key.name),
    h("td", { class: "mono" }, key.maskedKey),
    h("td", {}, key.scopes.map(scopeLabel).join(", ")),
    h("td", {}, formatTime(key.createdAt)),
    h("td", { "data-testid": "expires" }, key.expiresAt ? formatTime(key.expiresAt) : "never"),
    h("td", {}, formatTime(key.lastUsedAt)),
    h("td", {}, key.revokedAt ? `Revoked ${formatTime(key.revokedAt)}` : key.status.toLowerCase()),
    h("td", {}, key.revokedAt ? "" : revoke),
  );
}

/**
 * Name and scopes; the caller can only grant scopes it holds, so the others are shown but disabled. The operator's
 * INSTANCE_ADMIN is never granted through the API (only `signalpost keys create` grants it).
 */
function generateForm(scopes, held) {
  const canGrant = (scope) => scope !== "INSTANCE_ADMIN" && (held.includes("ADMIN") || held.includes(scope));
  return h(
    "form",
    { "aria-label": "Generate an API key" },
    h("h3", {}, "Generate a key"),
    h(
      "div",
      { class: "field" },
      h(
        "label",
        {},
        "Name",
        h("input", { name: "name", required: true, maxlength: 100, "aria-describedby": "key-name-error" }),
      ),
      h("span", { class: "field-error", id: "key-name-error", "data-error-for": "name", "aria-live": "polite" }),
    ),
    h(
      "fieldset",
      { class: "scopes" },
      h("legend", {}, "Scopes"),
      scopes.map((scope) =>
        checkbox(scopeLabel(scope.name), "scopes", {
          value: scope.name,
          disabled: !canGrant(scope.name),
          title: scope.description,
        }),
      ),
      h("span", { class: "field-error", "data-error-for": "scopes", "aria-live": "polite" }),
    ),
    field("Expires (empty: never; within 5 years)", "expiresAt", { type: "datetime-local" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Generate key")),
  );
}

export async function keysPage(view) {
  const [{ apiKeys }, { __type: scopeType }, { viewer }] = await Promise.all([
    gql(`{ apiKeys(first: 100) { edges { node { ${KEY_FIELDS} } } } }`),
    // The scopes come from the schema, so the form never offers one the server does not know.
    gql(`{ __type(name: "Scope") { enumValues { name description } } }`),
    gql("{ viewer { scopes } }"),
  ]);
  const created = h("div", { "data-testid": "created-key" });
  const list = h("div");
  const renderList = (keys) =>
    list.replaceChildren(
      dataTable(
        "API keys",
        ["Name", "Key", "Scopes", "Created", "Expires", "Last used", "Status", ""],
        keys.map((key) => keyRow(key, reload)),
      ),
    );
  const reload = async () => {
    const { apiKeys: fresh } = await gql(`{ apiKeys(first: 100) { edges { node { ${KEY_FIELDS} } } } }`);
    renderList(fresh.edges.map((edge) => edge.node));
  };

  const form = generateForm(scopeType.enumValues, viewer.scopes);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const { createApiKey: result } = await gql(
      `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) {
        __typename ... on CreatedApiKey { secret apiKey { name maskedKey } } ... on Error { code message field } } }`,
      {
        input: {
          name: data.get("name"),
          scopes: data.getAll("scopes"),
          ...(data.get("expiresAt") ? { expiresAt: isoFromLocal(data.get("expiresAt")) } : {}),
        },
      },
    );
    if (result.code) return showError(form, result);
    clearErrors(form);
    form.reset();
    // The full key exists only in this notice: Copy or Done replaces it with the masked form for good.
    const hide = () => {
      created.replaceChildren(
        h(
          "p",
          { class: "notice" },
          `${result.apiKey.name} is hidden now. It shows as `,
          h("span", { class: "mono", "data-testid": "masked-key" }, result.apiKey.maskedKey),
          " from here on.",
        ),
      );
      form.querySelector("input")?.focus();
    };
    created.replaceChildren(shownOnce(`Key ${result.apiKey.name}`, result.secret, hide));
    created.querySelector("button")?.focus();
    say(`Key ${result.apiKey.name} generated`);
    await reload();
  });
  renderList(apiKeys.edges.map((edge) => edge.node));
  view.replaceChildren(h("h2", {}, "API keys"), form, created, list);
}
