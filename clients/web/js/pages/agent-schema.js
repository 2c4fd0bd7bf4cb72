import { gql } from "../api.js";
import { clearErrors, field, h, parseJsonField, say, showError } from "../dom.js";

const UPDATE = `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
  __typename ... on Error { code message field } } }`;
const VALIDATE = `query ($schema: JSON!, $payload: JSON!) { validatePayload(schema: $schema, payload: $payload) {
  __typename ... on PayloadValid { valid } ... on Error { code message field } } }`;

/** The example dropdown: picking one puts its schema in the editor (nothing is saved until Save schema). */
function exampleSelect(examples, textarea) {
  const select = h(
    "select",
    { name: "example", "aria-label": "Start from an example schema" },
    h("option", { value: "" }, "—"),
    examples.map((example, index) => h("option", { value: index, title: example.description }, example.name)),
  );
  select.addEventListener("change", () => {
    const example = examples[Number(select.value)];
    if (!example || select.value === "") return;
    textarea.value = JSON.stringify(example.schema, null, 2);
    say(`${example.name} schema put in the editor: Save schema to keep it`);
  });
  return h("label", {}, "Start from an example schema", select);
}

/**
 * The payload schema editor: checked as JSON here, then as JSON Schema by the server (errors name the field). With
 * `examples` (the API's examplePayloadSchemas) it also offers the example dropdown, a sample payload and Validate,
 * which asks the server whether the sample satisfies the schema in the editor, before anything is saved.
 */
export function schemaForm(agent, examples = null) {
  const result = h("p", { class: "muted", "data-testid": "validate-result", "aria-live": "polite" });
  const schemaField = field("Payload schema (JSON Schema 2020-12; empty for none)", "payloadSchema", {
    multiline: true,
    spellcheck: "false",
    value: agent.payloadSchema ? JSON.stringify(agent.payloadSchema, null, 2) : "",
  });
  const textarea = schemaField.querySelector("textarea");
  const validate = h("button", { type: "button" }, "Validate");
  const form = h(
    "form",
    { "aria-label": `Payload schema of ${agent.name}` },
    examples ? exampleSelect(examples, textarea) : null,
    schemaField,
    examples
      ? field("Sample payload to validate (JSON)", "samplePayload", {
          multiline: true,
          spellcheck: "false",
          value: "{}",
        })
      : null,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save schema"), examples ? validate : null),
    examples ? result : null,
  );
  validate.addEventListener("click", async () => {
    result.textContent = "";
    const schema = parseJsonField(form, "payloadSchema");
    if (schema === undefined) return;
    const payload = parseJsonField(form, "samplePayload");
    if (payload === undefined) return;
    const { validatePayload: checked } = await gql(VALIDATE, { schema, payload });
    if (checked.code) {
      // The API names its own arguments: schema is our payloadSchema, payload our sample.
      const name = checked.field === "schema" ? "payloadSchema" : "samplePayload";
      result.textContent = "Not valid: see the field above";
      return showError(form, { ...checked, field: name });
    }
    clearErrors(form);
    result.textContent = "Valid: the sample satisfies the schema";
    say("The sample payload satisfies the schema");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // A verdict about what was in the editor before does not describe what is saved now.
    result.textContent = "";
    const payloadSchema = parseJsonField(form, "payloadSchema", { emptyIsNull: true });
    if (payloadSchema === undefined) return;
    const { updateAgent } = await gql(UPDATE, { id: agent.id, input: { payloadSchema } });
    if (updateAgent.code) return showError(form, updateAgent);
    clearErrors(form);
    say(`Schema of ${agent.name} saved`);
  });
  return form;
}
