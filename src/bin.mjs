#!/usr/bin/env node
// The `signalpost` executable. It runs the TypeScript sources through tsx's loader, so commands work straight after
// `npm install`; `npm start` runs the compiled build instead (src/scripts/build.mjs), which uses less memory.
import { register } from "tsx/esm/api";

register();
await import("./entry.ts");
