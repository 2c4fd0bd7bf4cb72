#!/usr/bin/env node
// The `signalpost` executable. Signalpost runs its TypeScript sources through tsx's loader, so there is no build
// step between `npm install` and `npm start`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./cli.ts");
await main(process.argv.slice(2));
