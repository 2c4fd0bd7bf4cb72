import { live } from "../api.js";
import { h, say } from "../dom.js";

/**
 * The live integration console: one subscription for the whole session (so the header's indicator is always true),
 * resuming with `after` after a reconnect; the newest 500 lines are kept.
 */
const MAX_LINES = 500;
const QUERY = `subscription ($after: String, $last: Int) {
  consoleEvents(after: $after, last: $last) { cursor kind at message } }`;

const lines = [];
let stop;
let view;

function render(event) {
  return h(
    "div",
    { class: "line", "data-kind": event.kind },
    new Date(event.at).toLocaleTimeString(),
    h("span", { class: "kind" }, event.kind),
    event.message,
  );
}

function setState(state, reason) {
  const indicator = document.getElementById("connection");
  indicator.dataset.state = state;
  indicator.textContent = `Live: ${state}`;
  if (reason) say(`Live console: ${reason}`, { error: true });
}

export function startConsole() {
  if (stop) return;
  stop = live(
    QUERY,
    { last: 50 },
    {
      cursorOf: (data) => data.consoleEvents.cursor,
      onState: setState,
      onData: (data) => {
        lines.push(data.consoleEvents);
        if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
        if (!view?.isConnected) return;
        const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 4;
        view.append(render(data.consoleEvents));
        while (view.childElementCount > MAX_LINES) view.firstElementChild.remove();
        if (atBottom) view.scrollTop = view.scrollHeight;
      },
    },
  );
}

export function stopConsole() {
  stop?.();
  stop = undefined;
  lines.length = 0;
}

export async function consolePage(main) {
  view = h("div", {
    class: "console",
    role: "log",
    "aria-live": "polite",
    "aria-label": "Integration events",
    "data-testid": "console",
    tabindex: "0",
  });
  view.append(...lines.map(render));
  main.replaceChildren(
    h("h2", {}, "Live console"),
    h(
      "p",
      { class: "muted" },
      `Deliveries, tests, keys, secrets and inbound webhooks as they happen (last ${MAX_LINES} kept).`,
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", onclick: () => view.replaceChildren() }, "Clear view"),
    ),
    view,
  );
  view.scrollTop = view.scrollHeight;
}
