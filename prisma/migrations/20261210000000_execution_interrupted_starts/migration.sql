-- Starts of an execution that never finished (the worker process died or hung while running it): the third start after
-- two such marks the execution FAILED instead of running it again (executions.service.ts).
ALTER TABLE "AgentExecution" ADD COLUMN "interruptedStarts" INTEGER NOT NULL DEFAULT 0;
