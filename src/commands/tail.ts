import { consoleEvents } from "../../clients/typescript/src/index.js";
import { parseRemote } from "./remote.js";
import { UsageError } from "./usage-error.js";

/**
 * `signalpost tail [--last n]`: the integration console, live (the consoleEvents subscription), one line per
 * event. Resumes after a network loss from the last line shown, with no gap and no repeat.
 */
export async function tailCommand(args: string[]): Promise<void> {
  const { remote, values, positionals } = parseRemote(args, { last: { type: "string", default: "10" } });
  if (positionals.length) throw new UsageError("tail takes no arguments");
  const last = Number(values.last);
  if (!Number.isInteger(last) || last < 0 || last > 500) throw new UsageError("--last must be 0 to 500");
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let everConnected = false;
  try {
    const feed = consoleEvents(
      remote.client,
      // --last 0: only what happens from now on (the subscription takes 1 to 500, or nothing for live only).
      last > 0 ? { last } : {},
      {
        signal: controller.signal,
        onStatus: (status) => {
          if (status === "live") {
            remote.note(everConnected ? "Reconnected; caught up." : "Tailing the console (Ctrl-C to stop)");
            everConnected = true;
          } else if (status === "reconnecting") remote.note("Connection lost; reconnecting...");
        },
      },
    );
    for await (const event of feed) remote.print(`${event.at}  ${event.kind.padEnd(22)}  ${event.message}`, event);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
