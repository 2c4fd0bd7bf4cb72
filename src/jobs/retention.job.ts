import { z } from "zod";
import { scheduleOrphanedDeliveries } from "../modules/deliveries/prepare-delivery-queue.js";
import { pruneOldRecords } from "../modules/retention/retention.service.js";
import { defineJob } from "./kit/define-job.js";

/**
 * Prunes old delivery attempts, console events and expired inbound message ids every hour (pg-boss runs the schedule
 * on one worker), and gives waiting deliveries that have no job one (written by an older process during an upgrade,
 * say).
 */
export const retentionJob = defineJob({
  name: "retention.prune",
  schema: z.object({}).passthrough(),
  schedule: "7 * * * *",
  handle: async ({ logger }) => {
    const report = await pruneOldRecords();
    logger.info(report, "retention: old attempts, console events and inbound message ids deleted");
    await scheduleOrphanedDeliveries(logger);
  },
});
