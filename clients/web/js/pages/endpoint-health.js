import { gql } from "../api.js";
import { dataTable, h, say } from "../dom.js";

function ms(value) {
  return value === null || value === undefined ? "—" : `${value} ms`;
}

function percent(rate) {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 1000) / 10} %`;
}

/** One endpoint's health: its state and, for the last hour and day, attempts, success rate and latency percentiles. */
export function healthSummary(endpoint) {
  const { health } = endpoint;
  const row = (label, window) =>
    h(
      "tr",
      { "data-window": label },
      h("th", { scope: "row" }, label),
      h("td", {}, window.attempts),
      h("td", {}, percent(window.successRate)),
      h("td", {}, ms(window.p50Ms)),
      h("td", {}, ms(window.p95Ms)),
      h("td", {}, ms(window.p99Ms)),
    );
  return h(
    "section",
    { "aria-label": `Health of ${endpoint.name}`, class: "health" },
    h(
      "h4",
      {},
      "Health: ",
      h("span", { class: `state-${health.state}` }, health.state),
      health.consecutiveFailures ? ` (${health.consecutiveFailures} failures in a row)` : "",
    ),
    dataTable(
      `Health of ${endpoint.name}`,
      ["Window", "Attempts", "Success", "p50", "p95", "p99"],
      [row("Last hour", health.lastHour), row("Last day", health.lastDay)],
    ),
  );
}

/** Sends a test event to every enabled endpoint at once and lists each one's own outcome in `into`. */
export async function sendTestToAll(into) {
  into.replaceChildren(h("p", { class: "muted" }, "Sending…"));
  const { sendTestEventToAll: outcomes } = await gql(`mutation { sendTestEventToAll {
    endpoint { name }
    outcome { __typename
      ... on SendResult { statusCode durationMs error { class } }
      ... on RateLimitedError { message retryAfterSeconds } } } }`);
  const line = ({ endpoint, outcome }) => {
    const text =
      outcome.__typename === "RateLimitedError"
        ? `not sent: ${outcome.message}`
        : `${outcome.statusCode ?? `no answer (${outcome.error?.class})`} in ${outcome.durationMs} ms`;
    return h("li", { "data-endpoint": endpoint.name }, h("strong", {}, endpoint.name), `: ${text}`);
  };
  into.replaceChildren(
    outcomes.length
      ? h("ul", { class: "test-all" }, outcomes.map(line))
      : h("p", { class: "muted" }, "No enabled endpoints."),
  );
  say(`Test sent to ${outcomes.length} endpoint${outcomes.length === 1 ? "" : "s"}`);
}
