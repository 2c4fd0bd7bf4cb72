import { live } from "../api.js";
import { h, say } from "../dom.js";

/**
 * The live integration console: one subscription for the whole session (so the header's indicator is true on every
 * page and no line is missed while another page is open), resuming with `after` after a reconnect. Only the newest
 * 500 lines are kept, in memory and on screen.
 */
const MAX_LINES = 500;
const QUERY = `subscription ($after: String, $last: Int) {
  consoleEvents(after: $after, last: $last) { cursor kind at message endpointId deliveryId agentId } }`;

const lines = [];
let stop;
let view;

function render(event) {
  return h(
    "div",
    { class: "line", "data-kind": event.kind, "data-cursor": event.cursor },
    h("time", { datetime: event.at }, new Date(event.at).toLocaleTimeString()),
    h("span", { class: "kind" }, event.kind),
    event.message,
  );
}

const STATE_TEXT = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", offline: "offline" };

function setState(state, reason) {
  const indicator = document.getElementById("connection");
  indicator.dataset.state = state;
  indicator.textContent = `Live: ${STATE_TEXT[state] ?? state}`;
  if (reason) say(`Live console: ${reason}`, { error: true });
}

function append(event) {
  lines.push(event);
  if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
  if (!view?.isConnected) return;
  // Follow the newest line only when the reader is already at the bottom, not while they scroll back.
  const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 4;
  view.append(render(event));
  while (view.childElementCount > MAX_LINES) view.firstElementChild.remove();
  if (atBottom) view.scrollTop = view.scrollHeight;
}

/** Starts the session's subscription (once): the last 50 lines first, then live ones. */
export function startConsole() {
  if (stop) return;
  stop = live(
    QUERY,
    { last: 50 },
    { cursorOf: (data) => data.consoleEvents.cursor, onState: setState, onData: (data) => append(data.consoleEvents) },
  );
}

export function stopConsole() {
  stop?.();
  stop = undefined;
  lines.length = 0;
}

export async function consolePage(page) {
  view = h("div", {
    class: "console",
    role: "log",
    "aria-live": "polite",
    "aria-label": "Integration events",
    "data-testid": "console",
    tabindex: "0",
  });
  view.append(...lines.map(render));
  const clear = () => {
    lines.length = 0;
    view.replaceChildren();
    say("Console cleared");
  };
  page.replaceChildren(
    h("h2", {}, "Live console"),
    h(
      "p",
      { class: "muted" },
      `Deliveries, tests, keys, secrets and inbound webhooks as they happen; the newest ${MAX_LINES} lines are kept.`,
    ),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: clear }, "Clear")),
    view,
  );
  view.scrollTop = view.scrollHeight;
}
