import { gql } from "../api.js";
import { clearErrors, field, h, say, showError } from "../dom.js";

const UPDATE = `mutation ($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) {
  __typename ... on Agent { actions transform } ... on Error { code message field } } }`;

const TYPES = {
  emitEvent: "Publish an event (emitEvent)",
  forward: "Forward the request to an endpoint (forward)",
  relay: "Relay to live listeners (relay)",
};

let listCount = 0;

/**
 * The inputs of one action, named by the path the API's errors use (`actions.1.headers`), so a refusal lands under
 * the input it is about.
 */
function actionFields(action, index, { eventTypes, endpoints }) {
  const at = `actions.${index}`;
  if (action.type === "emitEvent") {
    const listId = `event-type-names-${++listCount}`;
    return [
      field("Event type", `${at}.eventType`, { value: action.eventType ?? "", required: true, list: listId }),
      h(
        "datalist",
        { id: listId },
        eventTypes.map((name) => h("option", { value: name })),
      ),
    ];
  }
  if (action.type === "forward") {
    const known = endpoints.some((endpoint) => endpoint.id === action.endpointId);
    const select = h(
      "select",
      { name: `${at}.endpointId`, required: true, "aria-label": "Endpoint" },
      h("option", { value: "" }, "Choose an endpoint"),
      endpoints.map((endpoint) =>
        h("option", { value: endpoint.id, selected: endpoint.id === action.endpointId }, endpoint.name),
      ),
      // An endpoint this list does not show (deleted since, say) stays as it is until changed.
      action.endpointId && !known
        ? h("option", { value: action.endpointId, selected: true }, "(unknown endpoint)")
        : null,
    );
    return [
      h(
        "div",
        { class: "field" },
        h("label", {}, "Endpoint", select),
        h("span", { class: "field-error", "data-error-for": `${at}.endpointId`, "aria-live": "polite" }),
      ),
      field("Request headers to forward (comma-separated)", `${at}.headers`, {
        value: (action.headers ?? []).join(", "),
      }),
    ];
  }
  return [h("p", { class: "muted" }, "Each accepted request goes to live subscribers (signalpost listen).")];
}

/** Reads the actions back from the form, in order. */
function readActions(form, actions) {
  const data = new FormData(form);
  return actions.map((action, index) => {
    const at = `actions.${index}`;
    if (action.type === "emitEvent")
      return { type: "emitEvent", eventType: String(data.get(`${at}.eventType`)).trim() };
    if (action.type === "forward") {
      const headers = String(data.get(`${at}.headers`) ?? "")
        .split(",")
        .map((name) => name.trim())
        .filter(Boolean);
      return { type: "forward", endpointId: data.get(`${at}.endpointId`), headers };
    }
    return { type: "relay" };
  });
}

/**
 * The agent's actions, a form per action type, and its JSONata transform, saved together (the transform shapes what
 * emitEvent publishes). `context` has the tenant's event type names and endpoints ({ id, name }) to choose from.
 */
export function actionsForm(agent, context) {
  let actions = Array.isArray(agent.actions) ? agent.actions.map((action) => ({ ...action })) : [];
  const list = h("div", { class: "action-list" });
  const form = h("form", { "aria-label": `Actions of ${agent.name}` });

  const render = () => {
    list.replaceChildren(
      ...actions.map((action, index) =>
        h(
          "fieldset",
          { class: "action", "data-action": index },
          h("legend", {}, `Action ${index + 1}: ${TYPES[action.type] ?? action.type}`),
          actionFields(action, index, context),
          h("span", { class: "field-error", "data-error-for": `actions.${index}`, "aria-live": "polite" }),
          h(
            "div",
            { class: "actions" },
            h(
              "button",
              {
                type: "button",
                class: "danger",
                "aria-label": `Remove action ${index + 1}`,
                onclick: () => {
                  actions = readActions(form, actions).filter((_, other) => other !== index);
                  render();
                  form.querySelector("[name=newAction]")?.focus();
                },
              },
              "Remove",
            ),
          ),
        ),
      ),
      actions.length ? "" : h("p", { class: "muted" }, "No actions: accepted requests are stored and do nothing else."),
    );
  };

  const newType = h(
    "select",
    { name: "newAction", "aria-label": "New action type" },
    Object.entries(TYPES).map(([value, text]) => h("option", { value }, text)),
  );
  const add = h(
    "button",
    {
      type: "button",
      onclick: () => {
        actions = [...readActions(form, actions), { type: newType.value }];
        render();
        // Straight to the new action's first control (its Remove button for a relay, which has no inputs).
        list
          .querySelector(`[data-action="${actions.length - 1}"]`)
          ?.querySelector("input, select, button")
          ?.focus();
      },
    },
    "Add action",
  );
  form.append(
    h("h3", {}, "Actions"),
    list,
    h("span", { class: "field-error", "data-error-for": "actions", "aria-live": "polite" }),
    h("div", { class: "inline-row" }, h("label", {}, "New action type", newType), add),
    field("JSONata transform (applied to the payload; empty for none)", "transform", {
      multiline: true,
      spellcheck: "false",
      value: agent.transform ?? "",
    }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save actions")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    actions = readActions(form, actions);
    const transform = String(new FormData(form).get("transform")).trim() || null;
    const { updateAgent: result } = await gql(UPDATE, { id: agent.id, input: { actions, transform } });
    if (result.code) return showError(form, result);
    clearErrors(form);
    say(`Actions of ${agent.name} saved`);
  });
  render();
  return form;
}
