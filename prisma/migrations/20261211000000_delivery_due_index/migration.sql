-- The Delivery rows are the one ledger of outbound work again (delivery-wake-ups.ts): every claim reads the waiting
-- rows in "dueAt" order, `status IN ('PENDING', 'SENDING') AND "dueAt" <= now() ORDER BY "dueAt" LIMIT n FOR UPDATE
-- SKIP LOCKED`. This partial index holds only the waiting rows, not the delivered history, and is read in order, so a
-- claim stops after its batch however large the backlog (0.25 ms per claim with 100,000 due, against 53 ms over
-- (status, "dueAt"), measured when the table queue was first built). No claim looks rows up by id any more, nor does
-- the sweep that gave waiting rows without a pg-boss job one (there are no such jobs now): the index by id goes.
CREATE INDEX "Delivery_due_idx" ON "Delivery" ("dueAt") WHERE status IN ('PENDING', 'SENDING');

DROP INDEX IF EXISTS "Delivery_waiting_id_idx";
