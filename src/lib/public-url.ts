/**
 * Where this instance is reached: the base of agents' webhook URLs, and (for sendTestWebhook) where the server can
 * POST to itself. Built once by the app context; the live settings set both once the listener is bound, and again
 * when the public URL setting changes.
 */
export class PublicUrls {
  #publicBase = "http://localhost:4000";
  #selfBase: string | undefined;

  configure(urls: { publicUrl: string; selfUrl?: string }): void {
    this.#publicBase = urls.publicUrl.replace(/\/+$/, "");
    if (urls.selfUrl) this.#selfBase = urls.selfUrl.replace(/\/+$/, "");
  }

  publicUrl(): string {
    return this.#publicBase;
  }

  /** The loopback URL of this process's own listener. @throws when this process serves no HTTP. */
  selfUrl(): string {
    if (!this.#selfBase) throw new Error("this process has no HTTP listener (role worker)");
    return this.#selfBase;
  }
}
