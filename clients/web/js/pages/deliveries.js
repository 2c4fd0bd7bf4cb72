import { gql } from "../api.js";
import { dataTable, detailHref, formatTime, h, say } from "../dom.js";

const STATUSES = ["PENDING", "SENDING", "SUCCEEDED", "FAILED", "CANCELLED"];
const DELIVERY_FIELDS =
  "id eventType status attemptCount lastStatusCode lastError failureReason createdAt endpoint { name }";

/** A select whose first option, "any", means no filter. */
function filterSelect(label, name, options, selected) {
  return h(
    "label",
    {},
    label,
    h(
      "select",
      { name },
      h("option", { value: "" }, "any"),
      options.map(([value, text]) => h("option", { value, selected: value === selected }, text)),
    ),
  );
}

function deliveryRow(delivery, reload) {
  const retry = h(
    "button",
    {
      type: "button",
      "aria-label": `Retry delivery ${delivery.id}`,
      onclick: async () => {
        retry.disabled = true;
        const { retryDelivery: result } = await gql(
          `mutation ($id: ID!) { retryDelivery(id: $id) { __typename
            ... on SendResult { statusCode error { class } delivery { status } } ... on Error { code message } } }`,
          { id: delivery.id },
        );
        if (result.code) say(`${result.code}: ${result.message}`, { error: true });
        else
          say(
            `Sent again: ${result.statusCode ?? `no answer (${result.error?.class})`}; now ${result.delivery.status}`,
          );
        await reload();
      },
    },
    "Retry",
  );
  return h(
    "tr",
    { "data-delivery": delivery.id },
    h(
      "td",
      {},
      h(
        "a",
        {
          href: detailHref("deliveries", delivery.id),
          "aria-label": `Details of ${delivery.eventType} to ${delivery.endpoint.name}, ${formatTime(delivery.createdAt)}`,
        },
        formatTime(delivery.createdAt),
      ),
    ),
    h("td", {}, delivery.eventType),
    h("td", {}, delivery.endpoint.name),
    h(
      "td",
      { class: `delivery-${delivery.status}` },
      delivery.status,
      delivery.failureReason ? ` (${delivery.failureReason})` : "",
    ),
    h("td", {}, delivery.attemptCount),
    h("td", {}, delivery.lastStatusCode ?? delivery.lastError ?? "—"),
    h("td", {}, retry),
  );
}

export async function deliveriesPage(view, filter = {}) {
  // Only the filters set: an empty select means "any", which the API spells as an absent field.
  const apiFilter = {
    ...(filter.status ? { statuses: [filter.status] } : {}),
    ...(filter.endpointId ? { endpointId: filter.endpointId } : {}),
  };
  const [{ endpoints }, { deliveries }] = await Promise.all([
    gql("{ endpoints(first: 100) { edges { node { id name } } } }"),
    gql(
      `query ($filter: DeliveryFilter) { deliveries(first: 50, filter: $filter) { __typename
        ... on DeliveryConnection { edges { node { ${DELIVERY_FIELDS} } } }
        ... on Error { code message } } }`,
      { filter: apiFilter },
    ),
  ]);
  const reload = () => deliveriesPage(view, filter);
  const form = h(
    "form",
    { "aria-label": "Filter deliveries", class: "inline" },
    filterSelect(
      "Status",
      "status",
      STATUSES.map((status) => [status, status.toLowerCase()]),
      filter.status,
    ),
    filterSelect(
      "Endpoint",
      "endpointId",
      endpoints.edges.map(({ node }) => [node.id, node.name]),
      filter.endpointId,
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Filter")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    deliveriesPage(view, { status: data.get("status") || undefined, endpointId: data.get("endpointId") || undefined });
  });
  if (deliveries.code) say(`${deliveries.code}: ${deliveries.message}`, { error: true });
  const rows = (deliveries.edges ?? []).map(({ node }) => deliveryRow(node, reload));
  view.replaceChildren(
    h("h2", {}, "Deliveries"),
    form,
    rows.length
      ? dataTable(
          "Deliveries, newest first",
          ["Created", "Event type", "Endpoint", "Status", "Attempts", "Last answer", ""],
          rows,
        )
      : h("p", { class: "muted" }, "No deliveries match."),
  );
}
