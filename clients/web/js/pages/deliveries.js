import { gql } from "../api.js";
import { formatTime, h, say } from "../dom.js";

const STATUSES = ["", "PENDING", "SENDING", "SUCCEEDED", "FAILED", "CANCELLED"];

export async function deliveriesPage(main, filter = {}) {
  const [{ endpoints }, { deliveries }] = await Promise.all([
    gql("{ endpoints(first: 100) { edges { node { id name } } } }"),
    gql(
      `query ($filter: DeliveryFilter) { deliveries(first: 50, filter: $filter) { __typename
        ... on DeliveryConnection { edges { node { id eventType status attemptCount lastStatusCode lastError createdAt endpoint { name } } } }
        ... on Error { code message } } }`,
      { filter: { statuses: filter.status ? [filter.status] : null, endpointId: filter.endpointId || null } },
    ),
  ]);
  const status = h(
    "select",
    { name: "status" },
    STATUSES.map((value) => h("option", { value, selected: value === (filter.status ?? "") }, value || "any")),
  );
  const endpoint = h(
    "select",
    { name: "endpointId" },
    h("option", { value: "" }, "any"),
    endpoints.edges.map(({ node }) =>
      h("option", { value: node.id, selected: node.id === filter.endpointId }, node.name),
    ),
  );
  const form = h(
    "form",
    { "aria-label": "Filter deliveries" },
    h("label", {}, "Status", status),
    h("label", {}, "Endpoint", endpoint),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    deliveriesPage(main, { status: status.value || undefined, endpointId: endpoint.value || undefined });
  });
  const rows = (deliveries.edges ?? []).map(({ node }) =>
    h(
      "tr",
      {},
      h("td", {}, formatTime(node.createdAt)),
      h("td", {}, node.eventType),
      h("td", {}, node.endpoint.name),
      h("td", {}, node.status),
      h("td", {}, node.attemptCount),
      h("td", {}, node.lastStatusCode ?? node.lastError ?? "—"),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              const { retryDelivery } = await gql(
                `mutation ($id: ID!) { retryDelivery(id: $id) { __typename ... on SendResult { statusCode delivery { status } } ... on Error { code message } } }`,
                { id: node.id },
              );
              if (retryDelivery.code) say(`${retryDelivery.code}: ${retryDelivery.message}`, { error: true });
              else
                say(`Sent again: ${retryDelivery.statusCode ?? "no response"} (now ${retryDelivery.delivery.status})`);
              deliveriesPage(main, filter);
            },
          },
          "Retry",
        ),
      ),
    ),
  );
  main.replaceChildren(
    h("h2", {}, "Deliveries"),
    form,
    rows.length
      ? h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Created", "Event type", "Endpoint", "Status", "Attempts", "Last answer", ""].map((t) =>
                h("th", { scope: "col" }, t),
              ),
            ),
          ),
          h("tbody", {}, rows),
        )
      : h("p", { class: "muted" }, "No deliveries match."),
  );
}
