import net from "node:net";

/**
 * A port nothing listens on, for a process that is told its port by number (the README's receiver, a metrics port).
 * Chosen below the kernel's ephemeral range (32768-60999 on Linux by default): a port the kernel hands out (another
 * test file's `listen(0)`, any outgoing connection's local end) could be taken between this probe and the real listen,
 * which failed CI once with EADDRINUSE. The probe binds every interface, as a plain `listen(port)` does.
 */
export async function unusedFixedPort(): Promise<number> {
  for (;;) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const probe = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      probe.once("error", () => resolve(false));
      probe.listen(candidate, () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => probe.close(resolve));
      return candidate;
    }
  }
}
