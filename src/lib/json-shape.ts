/**
 * Measures the shape of JSON text as it streams in, before anything parses it: nesting depth, containers (objects
 * and arrays), object members and array elements. JSON.parse of text built to expand takes many times its size in
 * heap (measured on 25 MB bodies, Node 20: `[[],[],...]` 13x, `[{},{},...]` 16x, objects with a key of their own
 * 16x, a realistic API payload 1.9x), so the limits and the heap estimate below are what keep a body that is within
 * its byte limit from running the heap out.
 *
 * The scanner is a byte loop with four counters (about 40 ms for 25 MB here): it does not validate JSON, which the
 * parser still does; text that is not JSON only needs to be counted no lower than the parser would build.
 */

/** What a scan found. */
export interface JsonShape {
  bytes: number;
  depth: number;
  containers: number;
  members: number;
  elements: number;
}

/** Limits of one JSON text; exceeding one throws JsonShapeError. */
export interface JsonShapeLimits {
  maxDepth: number;
  maxContainers: number;
  maxMembers: number;
}

/** A JSON text over one of its limits: `code` JSON_TOO_DEEP or JSON_TOO_COMPLEX, with the limit and what was counted. */
export class JsonShapeError extends Error {
  constructor(
    readonly code: "JSON_TOO_DEEP" | "JSON_TOO_COMPLEX",
    readonly limit: number,
    readonly measured: number,
    readonly what: "depth" | "containers" | "members",
  ) {
    super(
      code === "JSON_TOO_DEEP"
        ? `JSON nested deeper than ${limit} levels`
        : `JSON with more than ${limit} ${what === "containers" ? "objects and arrays" : "object members"}`,
    );
  }
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

/**
 * Heap one parsed value takes, in bytes, measured with JSON.parse on Node 20 (x64, no pointer compression) over
 * 25 MB texts of each shape: an empty array 40, an empty object 49, an element slot 8, a member 8 to 16 in objects
 * that share their keys (API records: a full batch of them measured 55 MB for 1.4 M members) and up to 184 with its
 * object when every object has a key of its own (each gets its own hidden class). Containers and elements are
 * rounded up; members are priced between the two, and the containers limit bounds the costly case (600 K objects
 * of a key each: about 110 MB against 67 MB estimated, inside the budget's margin). The text is counted twice:
 * the request's string while it is parsed, then the statement's copy of the payloads.
 */
const HEAP_PER_CONTAINER = 64;
const HEAP_PER_MEMBER = 48;
const HEAP_PER_ELEMENT = 8;
const HEAP_PER_TEXT_BYTE = 2;

/** An upper bound of the heap a request with this shape takes while it is parsed and handled. */
export function estimatedHeapBytes(shape: JsonShape): number {
  return (
    shape.bytes * HEAP_PER_TEXT_BYTE +
    shape.containers * HEAP_PER_CONTAINER +
    shape.members * HEAP_PER_MEMBER +
    shape.elements * HEAP_PER_ELEMENT
  );
}

/** Counts JSON text chunk by chunk; `push` throws JsonShapeError at the first byte over a limit. */
export class JsonShapeScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Whether the innermost open container is an object (bit set) or an array, up to maxDepth levels. */
  private readonly objectAt: Uint8Array;
  /** Whether the innermost array has a first element yet (commas count the rest). */
  private sawValue = false;
  private readonly shape: JsonShape = { bytes: 0, depth: 0, containers: 0, members: 0, elements: 0 };

  constructor(private readonly limits: JsonShapeLimits) {
    this.objectAt = new Uint8Array(limits.maxDepth + 1);
  }

  push(chunk: Uint8Array): void {
    const { maxDepth, maxContainers, maxMembers } = this.limits;
    const shape = this.shape;
    shape.bytes += chunk.byteLength;
    for (let index = 0; index < chunk.length; index++) {
      const byte = chunk[index] as number;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      switch (byte) {
        case QUOTE:
          this.inString = true;
          this.noteValue();
          break;
        case OPEN_OBJECT:
        case OPEN_ARRAY:
          this.noteValue();
          this.depth += 1;
          if (this.depth > maxDepth) throw new JsonShapeError("JSON_TOO_DEEP", maxDepth, this.depth, "depth");
          if (this.depth > shape.depth) shape.depth = this.depth;
          shape.containers += 1;
          if (shape.containers > maxContainers) {
            throw new JsonShapeError("JSON_TOO_COMPLEX", maxContainers, shape.containers, "containers");
          }
          this.objectAt[this.depth] = byte === OPEN_OBJECT ? 1 : 0;
          this.sawValue = false;
          break;
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          if (this.depth > 0) this.depth -= 1;
          this.sawValue = true;
          break;
        case COLON:
          shape.members += 1;
          if (shape.members > maxMembers) {
            throw new JsonShapeError("JSON_TOO_COMPLEX", maxMembers, shape.members, "members");
          }
          break;
        case COMMA:
          if (this.objectAt[this.depth] === 0 && this.depth > 0) shape.elements += 1;
          break;
        default:
          // Numbers, true, false, null, white space: the first element of an array is counted here.
          if (byte > 0x20) this.noteValue();
      }
    }
  }

  /** The shape of everything pushed so far. */
  result(): JsonShape {
    return { ...this.shape };
  }

  /** Counts the first element of an array (later ones are counted by their commas). */
  private noteValue(): void {
    if (!this.sawValue && this.depth > 0 && this.objectAt[this.depth] === 0) {
      this.shape.elements += 1;
    }
    this.sawValue = true;
  }
}

/** Scans a whole text at once (inbound bodies and WebSocket messages, which arrive whole). */
export function measureJson(text: Uint8Array, limits: JsonShapeLimits): JsonShape {
  const scanner = new JsonShapeScanner(limits);
  scanner.push(text);
  return scanner.result();
}

/**
 * The structure of a JSON text of up to 1 MB (inbound webhooks, WebSocket messages): room for any webhook a provider
 * sends (a 1 MB body of API records measured 18 K objects and arrays and 55 K members), while one built to expand
 * (300 K empty arrays fit in 1 MB) stops before it is parsed.
 */
export const ONE_MEGABYTE_JSON_LIMITS: JsonShapeLimits = { maxDepth: 64, maxContainers: 100_000, maxMembers: 250_000 };
