import { readFileSync } from "node:fs";

/** The package version, sent in `user-agent` and shown by `serverInfo`. */
export const VERSION: string = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;
