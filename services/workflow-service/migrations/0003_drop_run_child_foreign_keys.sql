-- maestro:phase expand
-- workflow 0003: drop the (tenant, run_id) foreign keys from the run's child tables.
--
-- Why: every child row written (a step, five events, a timer) ran a referential-integrity check
-- against runs: an SPI query plus a FOR KEY SHARE lock on the run row, which is itself being
-- written in the same transaction. Worse, each connection plans that RI query once and keeps
-- the plan: on a fresh database (no statistics yet) Postgres 15 picks runs_list_status_idx
-- (tenant, status, created_at, id) for `tenant = $1 AND id = $2`, so every check walks all of
-- the tenant's runs. Measured with `make bench-workflow`: the RI checks were ~25 % of all CPU
-- and throughput fell as the runs table grew; without them, 1-step runs/s rose by ~40 %.
--
-- What keeps the children consistent instead:
--   * Only the engine writes child rows, and it writes them in the transaction that inserts or
--     row-locks their run (start_run(), the executors' batched DAG advance, the timer and API
--     paths), copying tenant and run id from that run row.
--   * Row-level security still applies to every child table: an API session (maestro.tenant =
--     its tenant) can neither read nor write another tenant's rows (WITH CHECK), so tenant
--     isolation does not depend on the foreign keys.
--   * Nothing deletes runs today. Run retention, when it comes, deletes a run's children in the
--     same statement batch (the ON DELETE CASCADE these keys gave is not relied on).
--   * runs.parent_run_id keeps its self-reference: it is written only for sub-workflows.
--
-- Dropping a foreign key is compatible with the previous release's code, hence `expand`.
-- Each DROP takes a brief ACCESS EXCLUSIVE lock on the child table and on runs; no scan.
ALTER TABLE step_executions DROP CONSTRAINT IF EXISTS step_executions_tenant_run_id_fkey;
ALTER TABLE run_events DROP CONSTRAINT IF EXISTS run_events_tenant_run_id_fkey;
ALTER TABLE timers DROP CONSTRAINT IF EXISTS timers_tenant_run_id_fkey;
ALTER TABLE signals DROP CONSTRAINT IF EXISTS signals_tenant_run_id_fkey;

-- maestro:down
ALTER TABLE step_executions ADD CONSTRAINT step_executions_tenant_run_id_fkey
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE NOT VALID;
ALTER TABLE run_events ADD CONSTRAINT run_events_tenant_run_id_fkey
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE NOT VALID;
ALTER TABLE timers ADD CONSTRAINT timers_tenant_run_id_fkey
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE NOT VALID;
ALTER TABLE signals ADD CONSTRAINT signals_tenant_run_id_fkey
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE NOT VALID;
