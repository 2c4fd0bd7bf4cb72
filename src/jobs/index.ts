import type { JobDefinition } from "./define-job.js";

/** Every job the worker role runs. Each later feature adds its jobs here (one job per file in this folder). */
export const allJobs: readonly JobDefinition[] = [];
