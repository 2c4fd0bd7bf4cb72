import { gql } from "../api.js";
import { codeBlock, confirmDialog, formatTime, h, headersTable, prettyBody, say } from "../dom.js";

/**
 * One delivery, like GitHub's "Recent deliveries": the request as sent, then every attempt with the receiver's
 * answer, and Redeliver.
 */
const QUERY = `query ($id: ID!) { delivery(id: $id) { __typename
  ... on Delivery { id messageId eventType status attemptCount nextAttemptAt completedAt failureReason createdAt
    endpoint { name url } request { headers body }
    attempts { id number trigger statusCode durationMs responseHeaders responseBody errorClass errorMessage createdAt } }
  ... on Error { code message } } }`;

const REDELIVER = `mutation ($id: ID!) { retryDelivery(id: $id) { __typename
  ... on SendResult { attemptNumber statusCode durationMs error { class } delivery { status } }
  ... on Error { code message } } }`;

/** "200", or what went wrong when no answer came. */
function answerOf(attempt) {
  return attempt.statusCode ?? `no answer (${attempt.errorClass ?? "error"})`;
}

/** What followed this attempt: the next one, the scheduled retry, or why there is none. */
function nextOf(attempt, delivery) {
  const later = delivery.attempts.find((other) => other.number === attempt.number + 1);
  if (later) return `attempt ${later.number}, ${formatTime(later.createdAt)}`;
  if (delivery.nextAttemptAt) return `scheduled for ${formatTime(delivery.nextAttemptAt)}`;
  if (delivery.status === "SUCCEEDED") return "none: delivered";
  return delivery.failureReason ? `none: ${delivery.failureReason}` : "none";
}

function attemptSection(attempt, delivery, open) {
  const ok = attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300;
  return h(
    "details",
    { class: "attempt", "data-attempt": attempt.number, open },
    h(
      "summary",
      {},
      h("span", { class: ok ? "ok" : "bad" }, ok ? "✓" : "✗"),
      ` Attempt ${attempt.number} · ${attempt.trigger.toLowerCase()} · ${answerOf(attempt)} · ${attempt.durationMs} ms · ${formatTime(attempt.createdAt)}`,
    ),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Trigger"),
      h("dd", { "data-testid": "trigger" }, attempt.trigger),
      h("dt", {}, "Status"),
      h("dd", { "data-testid": "status-code" }, attempt.statusCode ?? "no response"),
      h("dt", {}, "Latency"),
      h("dd", { "data-testid": "latency" }, `${attempt.durationMs} ms`),
      h("dt", {}, "Error class"),
      h("dd", { "data-testid": "error-class" }, attempt.errorClass ?? "—"),
      attempt.errorMessage ? [h("dt", {}, "Error"), h("dd", {}, attempt.errorMessage)] : [],
      h("dt", {}, "Next attempt"),
      h("dd", { "data-testid": "next-attempt" }, nextOf(attempt, delivery)),
    ),
    h("h4", {}, "Response headers"),
    headersTable(`Response headers of attempt ${attempt.number}`, attempt.responseHeaders),
    h("h4", {}, "Response body"),
    attempt.responseBody
      ? codeBlock(prettyBody(attempt.responseBody), `Response body of attempt ${attempt.number}`, {
          "data-testid": "response-body",
        })
      : h("p", { class: "muted" }, "Empty"),
  );
}

export async function deliveryDetailPage(view, id) {
  const { delivery } = await gql(QUERY, { id });
  if (delivery.code) {
    view.replaceChildren(
      h("h2", {}, "Delivery"),
      h("p", { role: "alert" }, delivery.message),
      h("p", {}, h("a", { href: "#/deliveries" }, "Back to deliveries")),
    );
    return;
  }
  const redeliver = h(
    "button",
    {
      type: "button",
      class: "primary",
      onclick: async () => {
        const confirmed = await confirmDialog(
          `Redeliver to ${delivery.endpoint.name} now? It gets the same webhook-id, so it can tell this is a repeat.`,
          "Redeliver",
        );
        if (!confirmed) return;
        redeliver.disabled = true;
        const { retryDelivery: result } = await gql(REDELIVER, { id: delivery.id });
        if (result.code) say(`${result.code}: ${result.message}`, { error: true });
        else
          say(
            `Redelivered: attempt ${result.attemptNumber} got ${result.statusCode ?? `no answer (${result.error?.class})`}; now ${result.delivery.status}`,
          );
        await deliveryDetailPage(view, id);
        view.querySelector("[data-redeliver]")?.focus();
      },
      "data-redeliver": true,
    },
    "Redeliver",
  );
  const attempts = delivery.attempts.map((attempt, index) =>
    attemptSection(attempt, delivery, index === delivery.attempts.length - 1),
  );
  view.replaceChildren(
    h("p", {}, h("a", { href: "#/deliveries" }, "← Deliveries")),
    h("h2", {}, `Delivery of ${delivery.eventType} to ${delivery.endpoint.name}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Status"),
      h(
        "dd",
        { class: `delivery-${delivery.status}`, "data-testid": "delivery-status" },
        delivery.status,
        delivery.failureReason ? ` (${delivery.failureReason})` : "",
      ),
      h("dt", {}, "Endpoint"),
      h("dd", {}, delivery.endpoint.name, " ", h("span", { class: "mono" }, delivery.endpoint.url)),
      h("dt", {}, "webhook-id"),
      h("dd", { class: "mono" }, delivery.messageId),
      h("dt", {}, "Created"),
      h("dd", {}, formatTime(delivery.createdAt)),
      h("dt", {}, "Next attempt"),
      h("dd", {}, delivery.nextAttemptAt ? formatTime(delivery.nextAttemptAt) : "none"),
    ),
    h("div", { class: "actions" }, redeliver),
    h(
      "section",
      { "aria-labelledby": "request-heading", class: "card" },
      h("h3", { id: "request-heading" }, "Request"),
      h("h4", {}, "Headers"),
      headersTable("Request headers", delivery.request.headers),
      h(
        "p",
        { class: "muted" },
        "webhook-timestamp and webhook-signature are added at each attempt (signed with the secrets live then).",
      ),
      h("h4", {}, "Body"),
      codeBlock(prettyBody(delivery.request.body), "Request body", { "data-testid": "request-body" }),
    ),
    h(
      "section",
      { "aria-labelledby": "attempts-heading" },
      h("h3", { id: "attempts-heading" }, `Attempts (${delivery.attempts.length})`),
      attempts.length ? attempts : h("p", { class: "muted" }, "Not attempted yet."),
    ),
  );
}
