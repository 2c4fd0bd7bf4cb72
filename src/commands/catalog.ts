/**
 * Every command's name, one-line summary and usage text, kept apart from the commands themselves so that help,
 * `--help` and suggestions never load the SDK or open a database. The dispatcher (src/cli.ts) answers `-h`/`--help`
 * from here before any command runs: asking for help never acts.
 */

/** The options every command that talks to a running server takes. */
const CONNECTION = `Connection (commands that talk to a running server):
  --url <url>    The server, with or without /graphql (SIGNALPOST_URL; default http://localhost:4000)
  --key <key>    An API key (SIGNALPOST_API_KEY)
  --json         One JSON object per line on stdout, for scripts`;

export interface CommandHelp {
  summary: string;
  usage: string;
}

export interface CommandEntry extends CommandHelp {
  /** Subcommands by name (`endpoints list`), when the command has them. */
  subcommands?: Record<string, CommandHelp>;
  /** True for commands that talk to a running server (their help shows the connection options). */
  remote?: boolean;
}

export const COMMANDS: Record<string, CommandEntry> = {
  serve: {
    summary: "Run Signalpost (API and worker)",
    usage: `signalpost serve [--role all|api|worker]
  Runs the server. --role all (the default) runs the API and the delivery worker in one process.`,
  },
  migrate: {
    summary: "Apply pending database migrations and exit",
    usage: `signalpost migrate
  Applies pending database migrations (DATABASE_URL, or the embedded database) and exits.`,
  },
  keys: {
    summary: "Create, list and revoke API keys; make a master key",
    usage: "signalpost keys <create|list|revoke|master> [options]",
    subcommands: {
      create: {
        summary: "Create an API key on the database (no server needed)",
        usage: `signalpost keys create --tenant <slug> --name <name> --scopes <scope,scope...> [--expires-in-days <n>] [--json]
  Creates an API key (and the tenant, if it does not exist) and prints it once. Works on the database directly
  (DATABASE_URL or the embedded one), alongside a running server. Scope instance:admin makes an operator key.`,
      },
      list: {
        summary: "List the tenant's API keys (via the server)",
        usage: `signalpost keys list [--all]
  Lists the API keys of your key's tenant; --all includes revoked ones. Needs keys:read.`,
      },
      revoke: {
        summary: "Revoke an API key by id or name (via the server)",
        usage: `signalpost keys revoke <key id or name>
  Revokes an API key of your key's tenant at once. Needs keys:write.`,
      },
      master: {
        summary: "Print a new master key for SIGNALPOST_MASTER_KEY",
        usage: `signalpost keys master
  Prints a new random master key for SIGNALPOST_MASTER_KEY. Stores nothing.`,
      },
    },
  },
  listen: {
    summary: "Forward the tenant's events (or an agent's webhooks) to a local URL",
    remote: true,
    usage: `signalpost listen --forward-to <url> [--events type,type...]
signalpost listen --agent <agent id or name> --forward-to <url>
  Without --agent: every event the tenant publishes (or those of --events) is signed like a real delivery, with a
  secret made for this session and printed at start (whsec_...), and POSTed to the local URL. Needs deliveries:read.
  With --agent: the agent's relayed webhooks (its relay action) are POSTed with their original body and headers.
  --forward is the same as --forward-to.`,
  },
  trigger: {
    summary: "Publish an example event of a type (payload made from its JSON Schema)",
    remote: true,
    usage: `signalpost trigger <event-type> [--idempotency-key k]
  Publishes an event whose payload is an example made from the type's JSON Schema: its examples or default if it
  has them, else a minimal valid instance. Needs endpoints:read and events:publish.`,
  },
  tail: {
    summary: "Show the integration console live",
    remote: true,
    usage: `signalpost tail [--last <n>]
  Prints the tenant's console (deliveries, agents, keys, settings) as it happens; --last shows the most recent
  lines first (default 10, at most 500). Ctrl-C stops. Needs console:read.`,
  },
  events: {
    summary: "Publish an event",
    remote: true,
    usage: "signalpost events publish <type> --data <json|@file> [--idempotency-key k]",
    subcommands: {
      publish: {
        summary: "Publish an event with the given payload",
        usage: `signalpost events publish <type> --data <json|@file> [--idempotency-key k]
  Publishes an event; --data is JSON, or @file with JSON in it.`,
      },
    },
  },
  deliveries: {
    summary: "List, show and retry deliveries",
    remote: true,
    usage: "signalpost deliveries <list|show|retry> [options]",
    subcommands: {
      list: {
        summary: "List recent deliveries",
        usage: `signalpost deliveries list [--status S]... [--endpoint <id or name>] [--limit n]
  Lists recent deliveries, newest first. --status is one of PENDING, SENDING, SUCCEEDED, FAILED, CANCELLED.`,
      },
      show: {
        summary: "Show a delivery with its attempts",
        usage: `signalpost deliveries show <delivery id>
  Shows a delivery and each of its attempts (status code, duration, error).`,
      },
      retry: {
        summary: "Send a delivery again now",
        usage: `signalpost deliveries retry <delivery id>
  Sends the delivery again at once; exits 1 unless it succeeds.`,
      },
    },
  },
  endpoints: {
    summary: "List, create and test endpoints; recover failed deliveries",
    remote: true,
    usage: "signalpost endpoints <list|create|test|recover> [options]",
    subcommands: {
      list: {
        summary: "List the endpoints",
        usage: `signalpost endpoints list
  Lists the tenant's endpoints: id, name, state, URL, event types.`,
      },
      create: {
        summary: "Create an endpoint and print its signing secret",
        usage: `signalpost endpoints create <name> <url> [--events type,type...] [--description text]
  Creates an endpoint (all event types unless --events) and prints its signing secret once.`,
      },
      test: {
        summary: "Send a test event to an endpoint",
        usage: `signalpost endpoints test <endpoint id or name>
  Sends a signalpost.test event to the endpoint now and prints the answer; exits 1 unless it is a 2xx.`,
      },
      recover: {
        summary: "Send failed deliveries again",
        usage: `signalpost endpoints recover --since <time> [--until <time>] [--endpoint <id or name>] [--dry-run]
  Sends again the failed deliveries of one endpoint (or of all) in the window. Times are ISO (2026-11-22T10:00:00Z)
  or relative (90m, 2h, 3d ago).`,
      },
    },
  },
  "event-types": {
    summary: "List and create event types",
    remote: true,
    usage: "signalpost event-types <list|create> [options]",
    subcommands: {
      list: {
        summary: "List the event types",
        usage: `signalpost event-types list [--all]
  Lists the tenant's event types; --all includes archived ones.`,
      },
      create: {
        summary: "Create an event type",
        usage: `signalpost event-types create <name> [--description text] [--schema <json|@file>]
  Creates an event type; --schema is a JSON Schema its payloads must match.`,
      },
    },
  },
  agents: {
    summary: "List agents",
    remote: true,
    usage: "signalpost agents list",
    subcommands: {
      list: {
        summary: "List the agents",
        usage: `signalpost agents list
  Lists the tenant's agents: id, name, status, actions, webhook URL.`,
      },
    },
  },
  replay: {
    summary: "POST exported or saved webhooks again (no server needed)",
    usage: `signalpost replay <file.ndjson> --to <url> [--secret whsec_...] [--concurrency N] [--json] [--dry-run]
  Posts each saved webhook (lines of exportDeliveries NDJSON, or { body, headers }) to the URL; with --secret each
  is signed afresh. Exits 1 unless every post got a 2xx.`,
  },
  help: { summary: "Show help for a command", usage: "signalpost help [command [subcommand]]" },
  version: { summary: "Print the version", usage: "signalpost version   (or signalpost --version)" },
};

/** The overview `signalpost`, `signalpost help` and `signalpost --help` print. */
export function overview(version: string): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  const lines = Object.entries(COMMANDS).map(([name, entry]) => {
    const subs = entry.subcommands ? ` ${Object.keys(entry.subcommands).join("|")}` : "";
    return `  ${`${name}`.padEnd(width)}${entry.summary}${subs ? ` (${subs.trim()})` : ""}`;
  });
  return `Signalpost ${version}: self-hosted webhooks.

Usage: signalpost <command> [subcommand] [options]

Commands:
${lines.join("\n")}

${CONNECTION}

Options: -h, --help (any command), --version. "signalpost <command> --help" shows a command's usage.
Exit codes: 0 done, 1 failed at run time, 2 bad usage or configuration. See README.md for configuration.`;
}

/** The usage text of a command (with its subcommands listed) or of one subcommand. */
export function commandUsage(name: string, subcommand?: string): string {
  const entry = COMMANDS[name] as CommandEntry;
  const sub = subcommand ? entry.subcommands?.[subcommand] : undefined;
  let text = `Usage: ${(sub ?? entry).usage}`;
  if (!sub && entry.subcommands) {
    const width = Math.max(...Object.keys(entry.subcommands).map((key) => key.length)) + 2;
    text += `\n\nSubcommands:\n${Object.entries(entry.subcommands)
      .map(([key, help]) => `  ${key.padEnd(width)}${help.summary}`)
      .join("\n")}\n\n"signalpost ${name} <subcommand> --help" shows one's options.`;
  }
  const remote = entry.remote || (name === "keys" && (subcommand === "list" || subcommand === "revoke"));
  if (remote) text += `\n\n${CONNECTION}`;
  return text;
}

/** True when the arguments ask for help: `-h` or `--help` anywhere before a `--`. */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "-h" || arg === "--help");
}

/**
 * The closest known name to a mistyped one (edit distance at most 2, or a prefix of it), for "did you mean".
 * A dozen lines of Levenshtein are not worth a dependency.
 */
export function closest(input: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.startsWith(input) && input.length >= 3 ? 1 : editDistance(input, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1)
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] as number;
}

/** "unknown command 'endpont'; did you mean 'endpoints'?" (or the list of known ones when nothing is close). */
export function unknownMessage(kind: string, input: string, known: readonly string[]): string {
  const guess = closest(input, known);
  return guess
    ? `unknown ${kind} '${input}'; did you mean '${guess}'?`
    : `unknown ${kind} '${input}'; one of: ${known.join(", ")}`;
}
