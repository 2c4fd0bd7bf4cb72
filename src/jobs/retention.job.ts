import { z } from "zod";
import { pruneOldRecords } from "../modules/retention/retention.service.js";
import { defineJob } from "./kit/define-job.js";

/**
 * Prunes old delivery attempts, console events and expired inbound message ids every hour (pg-boss runs the schedule
 * on one worker).
 */
export const retentionJob = defineJob({
  name: "retention.prune",
  schema: z.object({}).passthrough(),
  schedule: "7 * * * *",
  handle: async ({ logger }) => {
    const report = await pruneOldRecords();
    logger.info(report, "retention: old attempts, console events and inbound message ids deleted");
  },
});
