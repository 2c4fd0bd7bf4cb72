-- The table queue's index (delivery_queue_index) is replaced: pg-boss schedules deliveries, so no statement reads them
-- in dueAt order any more. Kept, it misled the claim's generic plan while a fan-out grew the table faster than the
-- statistics followed: taking it for selective, the planner ANDed it with the primary key and read every due row's
-- entry on each claim (13.5 ms per claim instead of 3-4 ms in the benchmark's fan-out, which ran at 1,700 deliveries/s
-- instead of 2,600-3,100).
DROP INDEX IF EXISTS "Delivery_queue_dueAt_idx";

-- What still looks for waiting deliveries by status is the sweep that gives each one without a job a job
-- (deliveriesWithoutJobPages, at every start and hourly): it pages them in id order. Over 2 million delivered rows and
-- 10,000 waiting ones, a page took 914 ms without an index (a scan of the whole table) and 13 ms with this one, which
-- holds the waiting rows only. Claims, which look deliveries up by id and status, use it as well as the primary key.
CREATE INDEX "Delivery_waiting_id_idx" ON "Delivery" (id) WHERE status IN ('PENDING', 'SENDING');
