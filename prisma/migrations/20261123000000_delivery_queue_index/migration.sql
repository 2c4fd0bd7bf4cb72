-- The delivery queue, read in dueAt order by every claim. Over (status, dueAt), `status IN ('PENDING', 'SENDING')
-- ORDER BY "dueAt" LIMIT n FOR UPDATE SKIP LOCKED` gathered and sorted every due row before locking a batch: 53 ms
-- per claim with 100k due, so throughput fell as the queue grew. This partial index is read in order and stops after
-- the batch (0.25 ms), and holds only the queue, not the delivered history. Prisma's schema cannot express a partial
-- index; the drift test knows this one by name.
CREATE INDEX "Delivery_queue_dueAt_idx" ON "Delivery" ("dueAt") WHERE status IN ('PENDING', 'SENDING');

DROP INDEX "Delivery_status_dueAt_idx";
