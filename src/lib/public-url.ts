/**
 * Where this instance is reached: the base of agents' webhook URLs, and (for sendTestWebhook) where the server can
 * POST to itself. Set at start-up once the listener is bound.
 */
let publicBase = "http://localhost:4000";
let selfBase: string | undefined;

export function configureUrls(urls: { publicUrl: string; selfUrl?: string }): void {
  publicBase = urls.publicUrl.replace(/\/+$/, "");
  if (urls.selfUrl) selfBase = urls.selfUrl.replace(/\/+$/, "");
}

export function publicUrl(): string {
  return publicBase;
}

/** The loopback URL of this process's own listener. @throws when this process serves no HTTP. */
export function selfUrl(): string {
  if (!selfBase) throw new Error("this process has no HTTP listener (role worker)");
  return selfBase;
}
