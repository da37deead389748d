-- maestro:phase expand
-- workflow 0006: foreach iterations and run strategies.
--
-- foreach: a foreach step attempt fans its inner step out over a list. Each iteration is an
-- ordinary step_executions row (step_id '<step>[<index>]', retried per the inner step's policy),
-- and foreach_attempt names the attempt of the foreach step it belongs to. A retried foreach
-- (RetryRun) thus tells its own iterations from an earlier attempt's, and reuses the outputs of
-- iterations that had completed. NULL for every other row; adding a nullable column without a
-- default rewrites nothing.
ALTER TABLE step_executions ADD COLUMN foreach_attempt integer;

-- Run strategies: a run that ends inserts a `start_queued` timer (due now) for the oldest run its
-- workflow has queued (sequential, or parallel with max_concurrent_runs). The timer loop then
-- promotes it, under the workflow's advisory lock, if a slot is free, and chains a timer to the
-- next queued run while slots remain. Promotion is thus one run lock per transaction, like
-- child_done and cancel_run (0005).
--
-- task steps: a `schedule_to_start` timer fails an attempt that no worker claimed within the
-- step's schedule_to_start_timeout (ERROR_CLASS_TIMEOUT; the retry policy decides what follows).
ALTER TABLE timers DROP CONSTRAINT timers_kind_check;
ALTER TABLE timers ADD CONSTRAINT timers_kind_check
    CHECK (kind IN ('sleep', 'step_timeout', 'run_timeout', 'sla', 'signal_timeout', 'child_done', 'cancel_run', 'start_queued', 'schedule_to_start')) NOT VALID;
ALTER TABLE timers VALIDATE CONSTRAINT timers_kind_check;
ALTER TABLE timers DROP CONSTRAINT timers_run_level_check;
ALTER TABLE timers ADD CONSTRAINT timers_run_level_check
    CHECK (kind IN ('run_timeout', 'sla', 'cancel_run', 'start_queued') OR step_id IS NOT NULL) NOT VALID;
ALTER TABLE timers VALIDATE CONSTRAINT timers_run_level_check;

-- maestro:down
DELETE FROM timers WHERE kind IN ('start_queued', 'schedule_to_start');
ALTER TABLE timers DROP CONSTRAINT timers_run_level_check;
ALTER TABLE timers ADD CONSTRAINT timers_run_level_check
    CHECK (kind IN ('run_timeout', 'sla', 'cancel_run') OR step_id IS NOT NULL) NOT VALID;
ALTER TABLE timers VALIDATE CONSTRAINT timers_run_level_check;
ALTER TABLE timers DROP CONSTRAINT timers_kind_check;
ALTER TABLE timers ADD CONSTRAINT timers_kind_check
    CHECK (kind IN ('sleep', 'step_timeout', 'run_timeout', 'sla', 'signal_timeout', 'child_done', 'cancel_run')) NOT VALID;
ALTER TABLE timers VALIDATE CONSTRAINT timers_kind_check;
ALTER TABLE step_executions DROP COLUMN foreach_attempt;
