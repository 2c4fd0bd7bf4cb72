import { gql } from "../api.js";
import { confirmDialog, copy, field, h, say, showError } from "../dom.js";

const FIELDS = "id name url description eventTypes enabled disabledReason secret { masked } health { state }";

async function load() {
  const { endpoints } = await gql(`{ endpoints(first: 100) { edges { node { ${FIELDS} } } } }`);
  return endpoints.edges.map((edge) => edge.node);
}

/** The add/edit form; `endpoint` set means edit. Field errors from the API appear under their input. */
function endpointForm(endpoint, done) {
  const form = h(
    "form",
    { "aria-label": endpoint ? `Edit ${endpoint.name}` : "Add endpoint" },
    h("h3", {}, endpoint ? `Edit ${endpoint.name}` : "Add an endpoint"),
    field("Name", "name", { required: true, value: endpoint?.name ?? "" }),
    field("URL", "url", { required: true, type: "url", value: endpoint?.url ?? "" }),
    field("Event types (comma-separated, empty for all)", "eventTypes", {
      value: endpoint?.eventTypes.join(", ") ?? "",
    }),
    field("Description", "description", { value: endpoint?.description ?? "" }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, endpoint ? "Save" : "Add endpoint"),
      h("button", { type: "button", onclick: () => done(false) }, "Cancel"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    const input = {
      name: values.name,
      url: values.url,
      description: values.description || null,
      eventTypes: values.eventTypes
        .split(",")
        .map((type) => type.trim())
        .filter(Boolean),
    };
    const mutation = endpoint
      ? `mutation ($id: ID!, $input: UpdateEndpointInput!) { result: updateEndpoint(id: $id, input: $input) {
          __typename ... on Error { code message field } } }`
      : `mutation ($input: CreateEndpointInput!) { result: createEndpoint(input: $input) {
          __typename ... on CreatedEndpoint { secret } ... on Error { code message field } } }`;
    const { result } = await gql(mutation, { id: endpoint?.id, input });
    if (result.code) return showError(form, result);
    say(endpoint ? "Endpoint saved" : "Endpoint added");
    done(true, result.secret);
  });
  return form;
}

export async function endpointsPage(main) {
  const endpoints = await load();
  const area = h("div");
  const refresh = () => endpointsPage(main);
  const run = async (mutation, variables, message) => {
    const { result } = await gql(mutation, variables);
    if (result.code) say(`${result.code}: ${result.message}`, { error: true });
    else say(message(result));
    return result;
  };
  const showOnce = (title, secret) =>
    area.replaceChildren(
      h(
        "div",
        { class: "once", role: "alert" },
        h("p", {}, `${title} — shown only now:`),
        h("p", { class: "secret", "data-testid": "shown-once" }, secret),
        h(
          "button",
          { type: "button", onclick: () => copy(secret, "Secret copied").then(() => area.replaceChildren()) },
          "Copy and hide",
        ),
      ),
    );

  const rows = endpoints.map((endpoint) =>
    h(
      "tr",
      { "data-endpoint": endpoint.name },
      h("td", {}, endpoint.name),
      h(
        "td",
        {},
        h("span", { class: "secret" }, endpoint.url),
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
        { class: `state-${endpoint.health.state}` },
        endpoint.health.state,
        endpoint.disabledReason ? ` (${endpoint.disabledReason})` : "",
      ),
      h("td", { class: "secret" }, endpoint.secret.masked),
      h(
        "td",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            onclick: () =>
              area.replaceChildren(endpointForm(endpoint, (changed) => (changed ? refresh() : area.replaceChildren()))),
          },
          "Edit",
        ),
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              await run(
                `mutation ($id: ID!) { result: ${endpoint.enabled ? "disableEndpoint" : "enableEndpoint"}(id: $id) { __typename ... on Error { code message } } }`,
                { id: endpoint.id },
                () => `${endpoint.name} ${endpoint.enabled ? "disabled" : "enabled"}`,
              );
              refresh();
            },
          },
          endpoint.enabled ? "Disable" : "Enable",
        ),
        h(
          "button",
          {
            type: "button",
            onclick: () =>
              run(
                `mutation ($id: ID!) { result: sendTestEvent(endpointId: $id) { __typename ... on SendResult { statusCode durationMs error { class } } ... on Error { code message } } }`,
                { id: endpoint.id },
                (sent) =>
                  `Test sent to ${endpoint.name}: ${sent.statusCode ?? sent.error?.class} in ${sent.durationMs} ms`,
              ),
          },
          "Send test",
        ),
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              const revealed = await run(
                `mutation ($id: ID!) { result: revealEndpointSecret(id: $id) { __typename ... on RevealedSecret { secret } ... on Error { code message } } }`,
                { id: endpoint.id },
                () => "Secret revealed (this is audited)",
              );
              if (revealed.secret) showOnce(`Secret of ${endpoint.name}`, revealed.secret);
            },
          },
          "Reveal secret",
        ),
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              if (
                !(await confirmDialog(
                  `Rotate the secret of ${endpoint.name}? The old one keeps working for 24 hours.`,
                  "Rotate",
                ))
              )
                return;
              const rotated = await run(
                `mutation ($id: ID!) { result: rotateEndpointSecret(id: $id) { __typename ... on RotatedSecret { secret } ... on Error { code message } } }`,
                { id: endpoint.id },
                () => "Secret rotated",
              );
              if (rotated.secret) showOnce(`New secret of ${endpoint.name}`, rotated.secret);
            },
          },
          "Rotate secret",
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: async () => {
              if (!(await confirmDialog(`Delete ${endpoint.name}? Its deliveries and attempts go too.`, "Delete")))
                return;
              await run(
                `mutation ($id: ID!) { result: deleteEndpoint(id: $id) { __typename ... on Error { code message } } }`,
                { id: endpoint.id },
                () => `${endpoint.name} deleted`,
              );
              refresh();
            },
          },
          "Delete",
        ),
      ),
    ),
  );
  main.replaceChildren(
    h("h2", {}, "Endpoints"),
    h(
      "button",
      {
        type: "button",
        class: "primary",
        onclick: () =>
          area.replaceChildren(
            endpointForm(null, (changed, secret) =>
              changed
                ? refresh().then(() => secret && say("Endpoint added; reveal its secret from the table"))
                : area.replaceChildren(),
            ),
          ),
      },
      "Add endpoint",
    ),
    area,
    endpoints.length
      ? h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Name", "URL", "Health", "Secret", "Actions"].map((title) => h("th", { scope: "col" }, title)),
            ),
          ),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted" }, "No endpoints yet."),
  );
}
