import { gql } from "../api.js";
import { h, say } from "../dom.js";

/** What the API shows instead of a stored header value; sent back, it keeps that value. */
export const HEADER_MASK = "••••••••";

let rowCount = 0;

/**
 * One header: its name, its value (a password input: a credential, shown masked, and typed without being shown)
 * and an error slot that app code points at `headers.<name>` before each save, the path the API's refusals name.
 */
function headerRow(name, value, onRemove) {
  const id = ++rowCount;
  const row = h(
    "div",
    { class: "header-row", "data-header-row": id },
    h("label", {}, "Header name", h("input", { "data-header": "name", value: name, autocomplete: "off" })),
    h(
      "label",
      {},
      "Value",
      h("input", { "data-header": "value", type: "password", value, autocomplete: "new-password" }),
    ),
    h(
      "button",
      { type: "button", class: "danger", "aria-label": `Remove header ${name || id}`, onclick: () => onRemove(row) },
      "Remove",
    ),
    h("span", { class: "field-error", "data-header": "error", "aria-live": "polite" }),
  );
  // h() sets attributes; inputs need their value as a property too (the attribute is only the default).
  row.querySelector('[data-header="name"]').value = name;
  row.querySelector('[data-header="value"]').value = value;
  return row;
}

/**
 * The custom headers editor of an endpoint: stored values arrive masked and go back masked unless changed (the API
 * keeps them); "Reveal values" shows them through the audited reveal. Returns { element, read, prepareErrors }.
 */
export function headersEditor(endpoint) {
  const rows = h("div", { class: "header-rows" });
  const remove = (row) => {
    row.remove();
    add.focus();
  };
  for (const [name, value] of Object.entries(endpoint?.headers ?? {})) rows.append(headerRow(name, value, remove));
  const add = h(
    "button",
    {
      type: "button",
      onclick: () => {
        const row = headerRow("", "", remove);
        rows.append(row);
        row.querySelector("input")?.focus();
      },
    },
    "Add header",
  );
  const reveal = endpoint
    ? h(
        "button",
        {
          type: "button",
          onclick: async () => {
            const { revealEndpointHeaders: result } = await gql(
              `mutation ($id: ID!) { revealEndpointHeaders(id: $id) { __typename
                ... on RevealedEndpointHeaders { headers } ... on Error { code message } } }`,
              { id: endpoint.id },
            );
            if (result.code) return say(`${result.code}: ${result.message}`, { error: true });
            for (const row of rows.children) {
              const name = row.querySelector('[data-header="name"]').value;
              const value = row.querySelector('[data-header="value"]');
              if (value.value === HEADER_MASK && name in result.headers) {
                value.value = result.headers[name];
                value.type = "text";
              }
            }
            say("Header values revealed (this is audited)");
          },
        },
        "Reveal values",
      )
    : null;
  const element = h(
    "fieldset",
    { class: "headers-editor" },
    h("legend", {}, "Custom headers (values are encrypted and shown masked)"),
    rows,
    h("span", { class: "field-error", "data-error-for": "headers", "aria-live": "polite" }),
    h("div", { class: "actions" }, add, reveal),
  );
  const entries = () =>
    [...rows.children].map((row) => ({
      row,
      name: row.querySelector('[data-header="name"]').value.trim(),
      value: row.querySelector('[data-header="value"]').value,
    }));
  return {
    element,
    /** The headers as the API takes them: names to values, masked ones as the mask. */
    read: () => Object.fromEntries(entries().map(({ name, value }) => [name, value])),
    /** Points each row's error slot and value input at `headers.<name>`, where the API's refusal will name it. */
    prepareErrors: () => {
      for (const { row, name } of entries()) {
        row.querySelector('[data-header="error"]').dataset.errorFor = `headers.${name}`;
        row.querySelector('[data-header="value"]').name = `headers.${name}`;
      }
    },
  };
}
