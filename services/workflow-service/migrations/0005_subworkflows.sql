-- maestro:phase expand
-- workflow 0005: sub-workflows.
--
-- A `subworkflow` step starts a child run (same tenant) and waits for it (WAITING). The child
-- records which attempt of which parent step it serves (parent_run_id, parent_step_id and the
-- new parent_step_attempt), so a retried parent step's new child is never confused with an old
-- one.
--
-- Parent and child never lock each other's rows in one transaction: the child's final
-- transition inserts a `child_done` timer for the parent run (due now), and the timer loop then
-- resolves the parent's step under the parent's lock alone. A parent that ends without
-- completing inserts a `cancel_run` timer for each active child, and the timer loop cancels the
-- child under the child's lock alone (which cascades to grandchildren the same way). Lock
-- order therefore stays one run per transaction on these paths: no parent/child deadlock.
ALTER TABLE runs ADD COLUMN parent_step_attempt integer;

ALTER TABLE timers DROP CONSTRAINT timers_kind_check;
ALTER TABLE timers ADD CONSTRAINT timers_kind_check
    CHECK (kind IN ('sleep', 'step_timeout', 'run_timeout', 'sla', 'signal_timeout', 'child_done', 'cancel_run')) NOT VALID;
ALTER TABLE timers VALIDATE CONSTRAINT timers_kind_check;
ALTER TABLE timers DROP CONSTRAINT timers_check1;
ALTER TABLE timers ADD CONSTRAINT timers_run_level_check
    CHECK (kind IN ('run_timeout', 'sla', 'cancel_run') OR step_id IS NOT NULL) NOT VALID;
ALTER TABLE timers VALIDATE CONSTRAINT timers_run_level_check;

-- maestro:down
DELETE FROM timers WHERE kind IN ('child_done', 'cancel_run');
ALTER TABLE timers DROP CONSTRAINT timers_run_level_check;
ALTER TABLE timers ADD CONSTRAINT timers_check1 CHECK (kind IN ('run_timeout', 'sla') OR step_id IS NOT NULL);
ALTER TABLE timers DROP CONSTRAINT timers_kind_check;
ALTER TABLE timers ADD CONSTRAINT timers_kind_check
    CHECK (kind IN ('sleep', 'step_timeout', 'run_timeout', 'sla', 'signal_timeout'));
ALTER TABLE runs DROP COLUMN parent_step_attempt;
