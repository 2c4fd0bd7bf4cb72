import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * Prometheus' own checker (`promtool`, Debian package `prometheus`): PROMTOOL_PATH, else the usual install paths.
 * Without one the metric-name test is skipped with the reason, unless SIGNALPOST_REQUIRE_PROMTOOL=1 (.ci/run sets it
 * and installs the package), where a missing promtool throws.
 */
export function findPromtool(env: NodeJS.ProcessEnv = process.env): { path?: string; skipReason?: string } {
  const chosen = env.PROMTOOL_PATH;
  if (chosen) {
    if (!existsSync(chosen)) throw new Error(`PROMTOOL_PATH=${chosen} does not exist`);
    return { path: chosen };
  }
  const found = ["/usr/bin/promtool", "/usr/local/bin/promtool", "/opt/homebrew/bin/promtool"].find(existsSync);
  if (found) return { path: found };
  const reason = "no promtool found (set PROMTOOL_PATH, or install it: apt-get install prometheus)";
  if (env.SIGNALPOST_REQUIRE_PROMTOOL === "1") throw new Error(`promtool is required here, but ${reason}`);
  return { skipReason: reason };
}

/** `promtool check metrics` on a scrape: its exit code and everything it printed (the lint problems, one a line). */
export async function promtoolCheckMetrics(promtool: string, text: string): Promise<{ code: number; output: string }> {
  const child = spawn(promtool, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve(code ?? -1));
  });
  child.stdin.end(text);
  return { code: await exited, output };
}
