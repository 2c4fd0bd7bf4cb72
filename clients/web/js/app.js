import { gql, session } from "./api.js";
import { h, say } from "./dom.js";
import { agentsPage } from "./pages/agents.js";
import { consolePage, startConsole, stopConsole } from "./pages/console.js";
import { deliveriesPage } from "./pages/deliveries.js";
import { endpointsPage } from "./pages/endpoints.js";
import { healthPage } from "./pages/health.js";
import { keysPage } from "./pages/keys.js";
import { settingsPage } from "./pages/settings.js";

/** Hash routes: each page renders into <main> and may return a cleanup function. */
const PAGES = {
  endpoints: endpointsPage,
  deliveries: deliveriesPage,
  health: healthPage,
  agents: agentsPage,
  keys: keysPage,
  settings: settingsPage,
  console: consolePage,
};

const main = document.getElementById("main");

function signInPage() {
  const keyInput = h("input", { name: "apiKey", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    { "aria-label": "Sign in" },
    h("h2", {}, "Sign in"),
    h("label", {}, "API key", keyInput),
    h("p", { class: "muted" }, "The key is exchanged for a session token; the key itself is not stored."),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { createSession } = await gql(
        "mutation { createSession { __typename ... on SessionToken { token } ... on Error { code message } } }",
        {},
        keyInput.value.trim(),
      );
      if (createSession.__typename !== "SessionToken") throw new Error(createSession.message);
      session.token = createSession.token;
      say("Signed in");
      location.hash = "#/endpoints";
      route();
    } catch (error) {
      say(`Sign-in failed: ${error.message}`, { error: true });
    }
  });
  main.replaceChildren(form);
  keyInput.focus();
}

let cleanup;

async function route() {
  cleanup?.();
  cleanup = undefined;
  const signedIn = Boolean(session.token);
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("session").hidden = !signedIn;
  if (!signedIn) {
    stopConsole();
    return signInPage();
  }
  startConsole();
  const name = location.hash.replace(/^#\//, "") || "endpoints";
  const page = PAGES[name] ?? PAGES.endpoints;
  for (const link of document.querySelectorAll("nav a"))
    link.toggleAttribute("aria-current", link.getAttribute("href") === `#/${name}`);
  if (link(name)) link(name).setAttribute("aria-current", "page");
  try {
    main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    cleanup = await page(main);
    main.focus();
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") {
      session.token = null;
      say("Your session ended; sign in again", { error: true });
      return route();
    }
    say(error.message, { error: true });
  }
}

function link(name) {
  return document.querySelector(`nav a[href="#/${name}"]`);
}

document.getElementById("sign-out").addEventListener("click", () => {
  session.token = null;
  say("Signed out");
  route();
});
window.addEventListener("hashchange", route);
route();
