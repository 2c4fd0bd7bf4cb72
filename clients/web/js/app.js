import { gql, SESSION_ENDED, session } from "./api.js";
import { field, h, say, showError } from "./dom.js";
import { agentDetailPage } from "./pages/agent-detail.js";
import { agentsPage } from "./pages/agents.js";
import { auditPage } from "./pages/audit.js";
import { consolePage, startConsole, stopConsole } from "./pages/console.js";
import { deliveriesPage } from "./pages/deliveries.js";
import { deliveryDetailPage } from "./pages/delivery-detail.js";
import { docsPage } from "./pages/docs.js";
import { endpointsPage } from "./pages/endpoints.js";
import { eventTypesPage } from "./pages/event-types.js";
import { healthPage } from "./pages/health.js";
import { keysPage } from "./pages/keys.js";
import { settingsPage } from "./pages/settings.js";

/** Hash routes (#/endpoints...): each page renders into <main>. */
const PAGES = {
  endpoints: endpointsPage,
  deliveries: deliveriesPage,
  health: healthPage,
  agents: agentsPage,
  "event-types": eventTypesPage,
  keys: keysPage,
  audit: auditPage,
  settings: settingsPage,
  console: consolePage,
  docs: docsPage,
};
/**
 * One object's page, #/<section>/<id>. The id is the API's, opaque: it is only URI-encoded into the hash and decoded
 * back, never parsed or built here.
 */
const DETAIL_PAGES = {
  deliveries: deliveryDetailPage,
  agents: agentDetailPage,
  docs: docsPage,
};

const main = document.getElementById("main");

function signInPage() {
  const form = h(
    "form",
    { "aria-label": "Sign in" },
    h("h2", {}, "Sign in"),
    field("API key", "apiKey", { type: "password", autocomplete: "off", required: true }),
    h("p", { class: "muted" }, "The key is exchanged for a session token; the key itself is not stored."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")),
  );
  const keyInput = form.elements.apiKey;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { createSession } = await gql(
        "mutation { createSession { __typename ... on SessionToken { token } ... on Error { code message field } } }",
        {},
        { token: keyInput.value.trim() },
      );
      if (createSession.__typename !== "SessionToken") return showError(form, { ...createSession, field: "apiKey" });
      session.token = createSession.token;
      keyInput.value = "";
      say("Signed in");
      navigate("endpoints");
    } catch (error) {
      showError(form, { code: "SIGN_IN_FAILED", message: `Sign-in failed: ${error.message}`, field: "apiKey" });
    }
  });
  main.replaceChildren(form);
  keyInput.focus();
}

/** Goes to a page: through hashchange when the hash changes, directly when it is already there. */
function navigate(name) {
  if (location.hash === `#/${name}`) route();
  else location.hash = `#/${name}`;
}

async function route() {
  const signedIn = Boolean(session.token);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("session").hidden = !signedIn;
  if (!signedIn) {
    stopConsole();
    return signInPage();
  }
  startConsole();
  const [requested, encodedId] = location.hash.replace(/^#\//, "").split("/");
  const name = requested in PAGES ? requested : "endpoints";
  const detail = encodedId && DETAIL_PAGES[name];
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // Each visit renders into its own element: a slow page that finishes after the user moved on (or re-renders
  // itself later) writes into a detached element instead of over the page now shown.
  const view = h("div", { class: "page" }, h("p", { class: "muted" }, "Loading…"));
  main.replaceChildren(view);
  try {
    if (detail) await detail(view, decodeURIComponent(encodedId));
    else await PAGES[name](view);
    if (view.isConnected) main.focus();
  } catch (error) {
    // An ended session is handled by the SESSION_ENDED listener; anything else is worth saying.
    if (error.code !== "UNAUTHENTICATED") say(error.message, { error: true });
  }
}

window.addEventListener(SESSION_ENDED, (event) => {
  if (!session.token) return;
  session.token = null;
  say(`${event.detail.message}: sign in again`, { error: true });
  route();
});

// A failed request in a button's handler would otherwise vanish into the devtools console.
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  if (event.reason?.code !== "UNAUTHENTICATED") say(event.reason?.message ?? String(event.reason), { error: true });
});

document.getElementById("sign-out").addEventListener("click", () => {
  session.token = null;
  say("Signed out");
  route();
});
// A message about the last page would mislead on the next one.
window.addEventListener("hashchange", () => {
  say("");
  route();
});
route();
