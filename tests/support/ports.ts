import { readFileSync } from "node:fs";
import net from "node:net";

/** The lowest port the kernel hands out on its own (`listen(0)`, outgoing connections); Linux's default if unknown. */
function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > 1024) return low;
  } catch {
    // Not Linux, or no /proc: the default range.
  }
  return 32_768;
}

const ATTEMPTS = 50;

/**
 * A port nothing listens on, for a process that is told its port by number (the README's receiver, a metrics port).
 * Chosen below the kernel's ephemeral range: a port the kernel hands out (another test file's `listen(0)`, any
 * outgoing connection's local end) could be taken between this probe and the real listen, which failed CI once with
 * EADDRINUSE. The probe binds every interface, as a plain `listen(port)` does, so the port is free for that and for a
 * 127.0.0.1 listener alike.
 */
export async function portBelowEphemeralRange(): Promise<number> {
  const top = ephemeralRangeStart();
  const bottom = Math.max(1_025, top - 12_000);
  for (let attempt = 0; attempt < ATTEMPTS; attempt += 1) {
    const candidate = bottom + Math.floor(Math.random() * (top - bottom));
    const probe = net.createServer();
    const bound = await new Promise<boolean>((resolve, reject) => {
      probe.once("error", (error: NodeJS.ErrnoException) =>
        error.code === "EADDRINUSE" ? resolve(false) : reject(error),
      );
      probe.listen(candidate, () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => probe.close(resolve));
      return candidate;
    }
  }
  throw new Error(`no free port below ${top} after ${ATTEMPTS} tries`);
}
