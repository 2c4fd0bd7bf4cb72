import { agentExecutionJob } from "./agent-execution.job.js";
import type { JobDefinition } from "./kit/define-job.js";
import { retentionJob } from "./retention.job.js";

/** Every job the worker role runs (one job per file in this folder). */
export const allJobs: readonly JobDefinition[] = [
  agentExecutionJob as unknown as JobDefinition,
  retentionJob as unknown as JobDefinition,
];
