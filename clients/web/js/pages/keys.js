import { gql } from "../api.js";
import { confirmDialog, copy, formatTime, h, say, showError } from "../dom.js";

const KEY_FIELDS = "id name maskedKey scopes status createdAt lastUsedAt revokedAt";

export async function keysPage(main) {
  const [{ apiKeys }, { __type: scopeType }] = await Promise.all([
    gql(`{ apiKeys(first: 100) { edges { node { ${KEY_FIELDS} } } } }`),
    // The scopes come from the schema, so the form never offers one the server does not know.
    gql(`{ __type(name: "Scope") { enumValues { name description } } }`),
  ]);
  const refresh = () => keysPage(main);
  const created = h("div", { "data-testid": "created-key" });
  const form = h(
    "form",
    { "aria-label": "Generate an API key" },
    h("h3", {}, "Generate a key"),
    h(
      "label",
      {},
      "Name",
      h("input", { name: "name", required: true }),
      h("span", { class: "field-error", "data-error-for": "name" }),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Scopes"),
      ...scopeType.enumValues.map((scope) =>
        h(
          "label",
          {},
          h("input", { type: "checkbox", name: "scopes", value: scope.name }),
          ` ${scope.name.toLowerCase().replace("_", ":")}`,
        ),
      ),
      h("span", { class: "field-error", "data-error-for": "scopes" }),
    ),
    h("button", { type: "submit", class: "primary" }, "Generate key"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const { createApiKey } = await gql(
      `mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) {
        __typename ... on CreatedApiKey { secret apiKey { maskedKey } } ... on Error { code message field } } }`,
      { input: { name: data.get("name"), scopes: data.getAll("scopes") } },
    );
    if (createApiKey.code) return showError(form, createApiKey);
    form.reset();
    // Shown once: after copying (or dismissing) only the masked form remains anywhere in the panel.
    const hide = () => {
      created.replaceChildren(
        h(
          "p",
          {},
          "Key hidden. It shows as ",
          h("span", { class: "secret", "data-testid": "masked-key" }, createApiKey.apiKey.maskedKey),
          " from now on.",
        ),
      );
      refreshList();
    };
    created.replaceChildren(
      h(
        "div",
        { class: "once", role: "alert" },
        h("p", {}, "Your new key — shown only now. Copy it somewhere safe:"),
        h("p", { class: "secret", "data-testid": "new-key" }, createApiKey.secret),
        h(
          "div",
          { class: "actions" },
          h(
            "button",
            { type: "button", class: "primary", onclick: () => copy(createApiKey.secret, "Key copied").then(hide) },
            "Copy key",
          ),
          h("button", { type: "button", onclick: hide }, "Done"),
        ),
      ),
    );
    say("Key generated");
  });
  const list = h("div");
  const renderList = (keys) =>
    list.replaceChildren(
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Name", "Key", "Scopes", "Created", "Last used", "Status", ""].map((title) =>
              h("th", { scope: "col" }, title),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          keys.map((key) =>
            h(
              "tr",
              { "data-key": key.name },
              h("td", {}, key.name),
              h("td", { class: "secret" }, key.maskedKey),
              h("td", {}, key.scopes.join(", ")),
              h("td", {}, formatTime(key.createdAt)),
              h("td", {}, formatTime(key.lastUsedAt)),
              h("td", {}, key.status),
              h(
                "td",
                {},
                key.revokedAt
                  ? ""
                  : h(
                      "button",
                      {
                        type: "button",
                        class: "danger",
                        onclick: async () => {
                          if (!(await confirmDialog(`Revoke ${key.name}? Requests with it fail at once.`, "Revoke")))
                            return;
                          const { revokeApiKey } = await gql(
                            `mutation ($id: ID!) { revokeApiKey(id: $id) { __typename ... on Error { code message } } }`,
                            { id: key.id },
                          );
                          if (revokeApiKey.code) say(revokeApiKey.message, { error: true });
                          else say(`${key.name} revoked`);
                          refresh();
                        },
                      },
                      "Revoke",
                    ),
              ),
            ),
          ),
        ),
      ),
    );
  const refreshList = async () => {
    const { apiKeys: fresh } = await gql(`{ apiKeys(first: 100) { edges { node { ${KEY_FIELDS} } } } }`);
    renderList(fresh.edges.map((edge) => edge.node));
  };
  renderList(apiKeys.edges.map((edge) => edge.node));
  main.replaceChildren(h("h2", {}, "API keys"), form, created, list);
}
