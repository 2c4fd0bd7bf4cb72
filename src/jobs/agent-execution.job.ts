import { z } from "zod";
import { EXECUTIONS_CHANNEL } from "../db/listen.js";
import { EXECUTION_QUEUE } from "../modules/agents/acceptance.js";
import { runExecution } from "../modules/agents/executions.service.js";
import { defineJob } from "./kit/define-job.js";

/** Runs an accepted inbound webhook through its agent's transform and actions (retried by pg-boss on failure). */
export const agentExecutionJob = defineJob({
  name: EXECUTION_QUEUE,
  schema: z.object({ executionId: z.string().uuid() }),
  batchSize: 20,
  wakeChannel: EXECUTIONS_CHANNEL,
  handle: async ({ data, retryCount, logger }) => {
    await runExecution(data.executionId, retryCount, logger);
  },
});
