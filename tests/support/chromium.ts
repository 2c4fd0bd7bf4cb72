import { existsSync } from "node:fs";

/**
 * Where Chromium (or Chrome) is usually installed: Debian and Ubuntu packages, snap, and the macOS app bundles.
 * CHROMIUM_PATH comes first when set.
 */
export const CHROMIUM_CANDIDATES = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/snap/bin/chromium",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
];

/** What the browser tests run with: a Chromium binary, or why they are skipped. */
export type ChromiumLookup = { path: string; skipReason?: undefined } | { path?: undefined; skipReason: string };

/**
 * Finds the Chromium the browser tests drive (playwright-core launches an installed browser; it downloads none).
 * A CHROMIUM_PATH that names no file is a mistake and throws. No browser at all skips the tests, with the reason,
 * unless SIGNALPOST_REQUIRE_BROWSER=1 (CI sets it in .ci/run): then it throws, so a CI machine without Chromium fails.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env, candidates = CHROMIUM_CANDIDATES): ChromiumLookup {
  const chosen = env.CHROMIUM_PATH;
  if (chosen) {
    if (!existsSync(chosen)) throw new Error(`CHROMIUM_PATH=${chosen} does not exist: point it at a Chromium binary`);
    return { path: chosen };
  }
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found) return { path: found };
  const reason =
    "no Chromium found (set CHROMIUM_PATH, or install it: apt-get install chromium / brew install --cask chromium)";
  if (env.SIGNALPOST_REQUIRE_BROWSER === "1") throw new Error(`browser tests are required here, but ${reason}`);
  return { skipReason: reason };
}

/**
 * The lookup for a browser test file, with the one-line note when it is skipped (vitest's summary counts skipped
 * tests but does not say why).
 */
export function chromiumForTests(file: string): ChromiumLookup {
  const lookup = findChromium();
  if (lookup.skipReason) console.warn(`skipping ${file}: ${lookup.skipReason}`);
  return lookup;
}
