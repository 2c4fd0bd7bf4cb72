import type { IncomingMessage } from "node:http";
import { type BlockList, isIP, isIPv4 } from "node:net";
import parseForwarded from "forwarded-parse";
import { blockListOf, type CidrRange } from "../lib/cidr.js";

/**
 * Hops of `Forwarded` / `X-Forwarded-For` read at most, nearest first: more proxies than this between a client and
 * us is a made-up chain, and the hop reached is used. (Node caps all headers at 16 KB, so the header itself is bounded.)
 */
const MAX_PROXY_HOPS = 16;

/** Who a request came from, as far as the trusted proxies tell. */
export interface ClientOrigin {
  /** The client's address: the socket's, or the one the nearest untrusted hop of a trusted proxy's chain names. */
  ip: string | null;
  /** The protocol the client used, when a trusted proxy said so (`X-Forwarded-Proto` or `Forwarded: proto=`). */
  protocol?: "http" | "https";
}

/** An address as it appears in a header or on a socket, without port, brackets or the IPv4-mapped prefix. */
function plainAddress(text: string | undefined): string | undefined {
  if (!text) return undefined;
  let address = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1] as string;
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(":"));
  if (address.toLowerCase().startsWith("::ffff:") && isIPv4(address.slice(7))) address = address.slice(7);
  return isIP(address) ? address : undefined;
}

function protocolOf(text: string | undefined): ClientOrigin["protocol"] {
  const protocol = text?.trim().toLowerCase();
  return protocol === "http" || protocol === "https" ? protocol : undefined;
}

/**
 * The hops a proxy's headers name, farthest (the client) first, each with the protocol said for it: `Forwarded`'s
 * own `proto`, or `X-Forwarded-Proto`'s values lined up with `X-Forwarded-For`'s from the right (each proxy appends
 * to both, or a single proxy sets one of each). Garbage is an empty list, never an error.
 */
function forwardedHops(req: IncomingMessage): { address: string | undefined; protocol: string | undefined }[] {
  const forwarded = req.headers.forwarded;
  if (forwarded) {
    try {
      return parseForwarded(forwarded).map((element) => ({ address: element.for, protocol: element.proto }));
    } catch {
      return [];
    }
  }
  const listed = (value: string | string[] | undefined) =>
    (Array.isArray(value) ? value.join(",") : (value ?? "")).split(",").filter((entry) => entry.trim() !== "");
  const addresses = listed(req.headers["x-forwarded-for"]);
  const protocols = listed(req.headers["x-forwarded-proto"]);
  const offset = addresses.length - protocols.length;
  return addresses.map((address, index) => ({ address, protocol: protocols[index - offset] }));
}

/**
 * SIGNALPOST_TRUSTED_PROXIES: the load balancers and reverse proxies whose `Forwarded` (RFC 7239) or
 * `X-Forwarded-For` / `X-Forwarded-Proto` headers are believed. Without any, or from any other peer, the client is
 * the socket's peer and the headers are ignored: a client cannot pick the address its failures are counted under.
 * Through trusted proxies the chain is read from the nearest hop back, and the first address that is not itself a
 * trusted proxy is the client's (a client's own made-up entries sit farther left and are never reached).
 */
export class TrustedProxies {
  readonly #proxies: BlockList | undefined;

  constructor(ranges: readonly CidrRange[] = []) {
    this.#proxies = ranges.length > 0 ? blockListOf(ranges) : undefined;
  }

  /** Whether the peer at `address` (as a socket gives it) is one of the trusted proxies. */
  trusts(address: string): boolean {
    const plain = plainAddress(address);
    return plain !== undefined && this.#trustsPlain(plain);
  }

  #trustsPlain(address: string): boolean {
    return this.#proxies?.check(address, isIPv4(address) ? "ipv4" : "ipv6") ?? false;
  }

  originOf(req: IncomingMessage): ClientOrigin {
    const peer = plainAddress(req.socket.remoteAddress) ?? req.socket.remoteAddress ?? null;
    if (peer === null || !this.#trustsPlain(peer)) return { ip: peer };
    const hops = forwardedHops(req);
    let client = { ip: peer, hop: hops.length };
    for (let index = hops.length - 1; index >= 0 && hops.length - index <= MAX_PROXY_HOPS; index -= 1) {
      const address = plainAddress(hops[index]?.address);
      // An unusable entry (`unknown`, an obfuscated name, garbage): the client is as far as the chain can be read.
      if (address === undefined) break;
      client = { ip: address, hop: index };
      if (!this.#trustsPlain(address)) break;
    }
    // The protocol the client used is what the proxy that met it said; else what the nearest proxy said.
    const protocol = protocolOf(hops[client.hop]?.protocol) ?? protocolOf(hops.at(-1)?.protocol);
    return protocol ? { ip: client.ip, protocol } : { ip: client.ip };
  }
}

const origins = new WeakMap<IncomingMessage, ClientOrigin>();

/** Records who the request came from (the HTTP server does, once per request and per WebSocket upgrade). */
export function rememberOrigin(req: IncomingMessage, origin: ClientOrigin): void {
  origins.set(req, origin);
}

/** Who the request came from: as recorded by the HTTP server, else the socket's peer. */
export function originOf(req: IncomingMessage): ClientOrigin {
  return origins.get(req) ?? { ip: req.socket.remoteAddress ?? null };
}
