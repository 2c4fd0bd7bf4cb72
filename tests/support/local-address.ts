import http from "node:http";

/** What a JSON endpoint answered. */
export interface JsonAnswer<Body> {
  status: number;
  retryAfter: string | undefined;
  body: Body;
}

/**
 * POSTs `body` to `url` from the loopback address `from` (any of 127.0.0.0/8 reaches a loopback listener), so each
 * address is its own client to the server's per-address limits. node:http, because fetch cannot pick the local
 * address (undici's connector does not pass `localAddress` through).
 */
export function postFromAddress<Body>(
  url: string,
  body: string,
  headers: Record<string, string>,
  from = "127.0.0.1",
): Promise<JsonAnswer<Body>> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: "POST",
        localAddress: from,
        agent: false,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            retryAfter: response.headers["retry-after"],
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Body,
          }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
