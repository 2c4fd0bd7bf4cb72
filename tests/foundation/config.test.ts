import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

function errorFor(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("configuration from the environment", () => {
  it("uses the documented defaults when nothing is set", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      host: "0.0.0.0",
      databaseUrl: undefined,
      dataDir: path.resolve(".signalpost"),
      publicUrl: undefined,
      logLevel: "info",
    });
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: "" })).toMatchObject({ port: 4000, databaseUrl: undefined });
  });

  it("reads overrides", () => {
    const config = loadConfig({ PORT: "5050", DATABASE_URL: "postgres://u:p@db:5432/x", LOG_LEVEL: "warn" });
    expect(config).toMatchObject({
      port: 5050,
      databaseUrl: "postgres://u:p@db:5432/x",
      logLevel: "warn",
    });
    expect(loadConfig({ SIGNALPOST_PUBLIC_URL: "https://hooks.example.com/" }).publicUrl).toBe(
      "https://hooks.example.com",
    );
  });

  it.each([
    [{ PORT: "abc" }, "PORT", "must be a number"],
    [{ PORT: "70000" }, "PORT", "between 0 and 65535"],
    [{ PORT: "40.5" }, "PORT", "whole number"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL", "postgres://"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", "must be one of"],
    [{ SIGNALPOST_PUBLIC_URL: "hooks.example.com" }, "SIGNALPOST_PUBLIC_URL", "absolute http(s) URL"],
    [{ SIGNALPOST_SHUTDOWN_TIMEOUT_MS: "-1" }, "SIGNALPOST_SHUTDOWN_TIMEOUT_MS", "positive"],
  ])("refuses %j naming %s", (env, variable, problem) => {
    const error = errorFor(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(problem);
    expect(error.message).not.toContain("\n");
  });
});
