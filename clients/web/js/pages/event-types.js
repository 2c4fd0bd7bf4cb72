import { gql } from "../api.js";
import {
  checkbox,
  clearErrors,
  codeBlock,
  confirmDialog,
  dataTable,
  field,
  formatTime,
  h,
  parseJsonField,
  say,
  showError,
} from "../dom.js";

const LIST = `query ($includeArchived: Boolean!) { eventTypes(first: 200, includeArchived: $includeArchived) {
  edges { node { id name description schema archived archivedAt createdAt } } } }`;
const CREATE = `mutation ($input: CreateEventTypeInput!) { createEventType(input: $input) {
  __typename ... on EventType { name } ... on Error { code message field } } }`;
const VALIDATE = `query ($schema: JSON!, $payload: JSON!) { validatePayload(schema: $schema, payload: $payload) {
  __typename ... on Error { code message field } } }`;
const ARCHIVE = `mutation ($id: ID!) { archiveEventType(id: $id) {
  __typename ... on EventType { archived } ... on Error { code message } } }`;

/**
 * Asks the server whether the example satisfies the schema; shows a refusal under the field it is about.
 * Resolves true when it does (or when there is nothing to check).
 */
async function exampleFits(form, schema, example) {
  if (schema === null || example === null) return true;
  const { validatePayload: checked } = await gql(VALIDATE, { schema, payload: example });
  if (!checked.code) return true;
  showError(form, { ...checked, field: checked.field === "schema" ? "schema" : "example" });
  return false;
}

function createForm(onCreated) {
  const result = h("p", { class: "muted", "data-testid": "example-result", "aria-live": "polite" });
  const form = h(
    "form",
    { "aria-label": "Create an event type" },
    h("h3", {}, "Create an event type"),
    field("Name (such as invoice.paid)", "name", { required: true, maxlength: 100 }),
    field("Description", "description"),
    field("JSON Schema of the payload (draft 2020-12; empty for none)", "schema", {
      multiline: true,
      spellcheck: "false",
    }),
    field("Example payload (JSON; checked against the schema)", "example", { multiline: true, spellcheck: "false" }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Create event type"),
      h("button", { type: "button", "data-validate": true }, "Validate example"),
    ),
    result,
  );
  /** The schema and example as JSON, or undefined when one is not JSON (said under it). */
  const read = () => {
    const schema = parseJsonField(form, "schema", { emptyIsNull: true });
    if (schema === undefined) return undefined;
    const example = parseJsonField(form, "example", { emptyIsNull: true });
    if (example === undefined) return undefined;
    return { schema, example };
  };
  form.querySelector("[data-validate]").addEventListener("click", async () => {
    result.textContent = "";
    const parsed = read();
    if (!parsed) return;
    if (parsed.schema === null || parsed.example === null)
      return say("Give both a schema and an example to validate", { error: true });
    if (!(await exampleFits(form, parsed.schema, parsed.example))) return;
    clearErrors(form);
    result.textContent = "The example satisfies the schema";
    say("The example satisfies the schema");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    result.textContent = "";
    const parsed = read();
    if (!parsed || !(await exampleFits(form, parsed.schema, parsed.example))) return;
    const data = new FormData(form);
    const input = {
      name: String(data.get("name")).trim(),
      description: String(data.get("description")).trim() || null,
      ...(parsed.schema === null ? {} : { schema: parsed.schema }),
    };
    const { createEventType: created } = await gql(CREATE, { input });
    if (created.code) return showError(form, created);
    clearErrors(form);
    form.reset();
    say(`Event type ${created.name} created`);
    await onCreated();
  });
  return form;
}

function typeRow(type, reload) {
  const archive = h(
    "button",
    {
      type: "button",
      class: "danger",
      "aria-label": `Archive ${type.name}`,
      onclick: async () => {
        const confirmed = await confirmDialog(
          `Archive ${type.name}? New events of this type are refused; what was published stays.`,
          "Archive",
        );
        if (!confirmed) return;
        const { archiveEventType: result } = await gql(ARCHIVE, { id: type.id });
        if (result.code) say(`${result.code}: ${result.message}`, { error: true });
        else say(`${type.name} archived`);
        await reload();
      },
    },
    "Archive",
  );
  return h(
    "tr",
    { "data-event-type": type.name },
    h("th", { scope: "row", class: "mono" }, type.name),
    h("td", {}, type.description ?? ""),
    h(
      "td",
      {},
      type.schema
        ? h("details", {}, h("summary", {}, "Schema"), codeBlock(type.schema, `Schema of ${type.name}`))
        : h("span", { class: "muted" }, "any payload"),
    ),
    h("td", {}, formatTime(type.createdAt)),
    h("td", { "data-testid": "archived" }, type.archived ? `archived ${formatTime(type.archivedAt)}` : "active"),
    h("td", {}, type.archived ? "" : archive),
  );
}

export async function eventTypesPage(view) {
  const list = h("div");
  const showArchived = checkbox("Show archived types", "includeArchived");
  const reload = async () => {
    const includeArchived = showArchived.querySelector("input").checked;
    const { eventTypes } = await gql(LIST, { includeArchived });
    const rows = eventTypes.edges.map(({ node }) => typeRow(node, reload));
    list.replaceChildren(
      rows.length
        ? dataTable("Event types", ["Name", "Description", "Schema", "Created", "State", ""], rows)
        : h("p", { class: "muted" }, "No event types yet: events can only be published to a registered type."),
    );
  };
  showArchived.querySelector("input").addEventListener("change", reload);
  await reload();
  view.replaceChildren(h("h2", {}, "Event types"), createForm(reload), showArchived, list);
}
