import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sendJsonError } from "../lib/json-response.js";

/** The web developer panel's hand-written static files (no build step). */
const PANEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../clients/web");
/** The README, which the panel's Docs page lists by section (public documentation, nothing else of the repo). */
const README = path.resolve(PANEL_DIR, "../../README.md");
/** graphql-ws's browser bundle, served from the installed package so the panel speaks the same protocol version. */
const GRAPHQL_WS_BUNDLE = path.join(
  path.dirname(createRequire(import.meta.url).resolve("graphql-ws/package.json")),
  "umd/graphql-ws.min.js",
);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".md": "text/markdown; charset=utf-8",
};

/** Where /console/<rest> comes from, or null for anything outside the panel's folder. */
function fileFor(rest: string): string | null {
  if (rest === "" || rest === "/") return path.join(PANEL_DIR, "index.html");
  if (rest === "/vendor/graphql-ws.js") return GRAPHQL_WS_BUNDLE;
  if (rest === "/README.md") return README;
  const resolved = path.resolve(PANEL_DIR, `.${decodeURIComponent(rest)}`);
  return resolved.startsWith(`${PANEL_DIR}${path.sep}`) ? resolved : null;
}

/** GET /console[/...]: the panel. Anything else under /console is a JSON 404 like every other unknown route. */
export async function serveConsole(req: http.IncomingMessage, res: http.ServerResponse, rest: string): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendJsonError(res, 405, { code: "METHOD_NOT_ALLOWED", message: "GET the console" }, { allow: "GET, HEAD" });
    return;
  }
  let file: string | null;
  try {
    file = fileFor(rest);
  } catch {
    file = null; // a malformed %-escape
  }
  const type = file ? TYPES[path.extname(file)] : undefined;
  const info = file && type ? await stat(file).catch(() => null) : null;
  if (!file || !type || !info?.isFile()) {
    sendJsonError(res, 404, { code: "NOT_FOUND", message: `No console file ${rest}` });
    return;
  }
  res.writeHead(200, {
    "content-type": type,
    "content-length": info.size,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    // The panel talks only to this server (HTTP and WebSocket) and loads nothing from elsewhere.
    "content-security-policy":
      "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  createReadStream(file).pipe(res);
}
