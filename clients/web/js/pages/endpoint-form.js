import { gql } from "../api.js";
import { checkbox, clearErrors, field, h, say, showError } from "../dom.js";
import { headersEditor } from "./endpoint-headers.js";

const ERROR_FIELDS = "... on Error { code message field }";
const TLS_WARNING =
  "Without TLS verification anyone on the network path can impersonate the receiver and read every delivery. Use it only for a receiver with a self-signed certificate you control.";

/** "a, b" -> ["a", "b"]; empty means every event type. */
function list(text) {
  return String(text ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
}

/** The retry schedule: the instance's default, or the endpoint's own delays and attempts. */
function retryFields(endpoint) {
  const policy = endpoint?.retryPolicy;
  const own = h(
    "div",
    { class: "retry-own" },
    field("Retry delays in seconds (comma-separated)", "delaysSeconds", {
      value: policy && !policy.isDefault ? policy.delaysSeconds.join(", ") : "",
      placeholder: "10, 60, 600",
    }),
    field("Attempts in all (empty: one more than the delays)", "maxAttempts", {
      type: "number",
      value: policy && !policy.isDefault ? policy.maxAttempts : "",
    }),
  );
  const useDefault = checkbox("Use the instance's default retry schedule", "retryDefault", {
    checked: !policy || policy.isDefault,
  });
  const toggle = () => {
    own.hidden = useDefault.querySelector("input").checked;
  };
  useDefault.querySelector("input").addEventListener("change", toggle);
  toggle();
  return h("fieldset", {}, h("legend", {}, "Retries"), useDefault, own);
}

/** The TLS toggle, with the warning shown whenever verification is off. */
function tlsField(endpoint) {
  const box = checkbox("Verify the receiver's TLS certificate", "verifyTls", { checked: endpoint?.verifyTls ?? true });
  const warning = h("p", { class: "warning", role: "note", "data-testid": "tls-warning" }, TLS_WARNING);
  const input = box.querySelector("input");
  const toggle = () => {
    warning.hidden = input.checked;
  };
  input.addEventListener("change", toggle);
  toggle();
  return h("div", { class: "field" }, box, warning);
}

/** The input for create or update: only what the form holds (update keeps what it leaves out). */
function inputOf(form, headers) {
  const data = new FormData(form);
  const delays = list(data.get("delaysSeconds")).map(Number);
  const maxAttempts = String(data.get("maxAttempts") ?? "").trim();
  return {
    name: data.get("name"),
    url: data.get("url"),
    description: data.get("description") || null,
    eventTypes: list(data.get("eventTypes")),
    headers: headers.read(),
    timeoutMs: Number(data.get("timeoutMs")),
    verifyTls: data.get("verifyTls") === "on",
    // The server checks the numbers and names the field it refuses.
    retryPolicy:
      data.get("retryDefault") === "on"
        ? null
        : { delaysSeconds: delays, ...(maxAttempts ? { maxAttempts: Number(maxAttempts) } : {}) },
  };
}

/**
 * The add/edit form; `endpoint` set means edit. `onSaved(secret?)` gets the new secret after an add, the only time
 * the API returns it in full. Field errors from the API appear under their input (a header's under its row).
 */
export function endpointForm(endpoint, { onSaved, onCancel, health }) {
  const title = endpoint ? `Edit ${endpoint.name}` : "Add an endpoint";
  const headers = headersEditor(endpoint);
  const form = h(
    "form",
    { "aria-label": title },
    h("h3", {}, title),
    field("Name", "name", { required: true, value: endpoint?.name }),
    field("URL", "url", { required: true, value: endpoint?.url, placeholder: "https://example.com/webhooks" }),
    field("Event types (comma-separated; empty for all)", "eventTypes", { value: endpoint?.eventTypes.join(", ") }),
    field("Description", "description", { value: endpoint?.description }),
    headers.element,
    field("Timeout (ms, 1000 to 30000)", "timeoutMs", { type: "number", value: endpoint?.timeoutMs ?? 15000 }),
    retryFields(endpoint),
    tlsField(endpoint),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, endpoint ? "Save" : "Add endpoint"),
      h("button", { type: "button", onclick: onCancel }, "Cancel"),
    ),
    health ?? null,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = inputOf(form, headers);
    // Creating with the default schedule means leaving the policy out.
    if (!endpoint && input.retryPolicy === null) delete input.retryPolicy;
    headers.prepareErrors();
    const mutation = endpoint
      ? `mutation ($id: ID!, $input: UpdateEndpointInput!) { result: updateEndpoint(id: $id, input: $input) {
          __typename ${ERROR_FIELDS} } }`
      : `mutation ($input: CreateEndpointInput!) { result: createEndpoint(input: $input) {
          __typename ... on CreatedEndpoint { secret } ${ERROR_FIELDS} } }`;
    const { result } = await gql(mutation, { id: endpoint?.id, input });
    if (result.code) return showError(form, result);
    clearErrors(form);
    say(endpoint ? `${input.name} saved` : `${input.name} added`);
    onSaved(result.secret);
  });
  return form;
}
