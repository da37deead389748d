-- maestro:phase expand
-- workflow 0004: start_runs(), StartRun's first transition for a whole batch of runs in one
-- statement and one commit (group commit of concurrent starts).
--
-- The service collects the StartRun calls of one tenant that arrive while an earlier batch is
-- being written, plans each run in memory (definition, input validation, first ready steps,
-- events, timers), and writes them all here. Per run the semantics are those of start_run()
-- (0002), which stays for the previous release:
--   'created'  the run and its first transition were written;
--   'exists'   its idempotency key had already started a run (also when two runs of the same
--              batch carry the same key: the first one wins), nothing written;
--   'stale'    it asked for the latest version and was planned with an older one, nothing
--              written; the caller plans it again.
-- Child rows (steps, timers, events) are written only for the runs that were created. The
-- function runs as its caller (SECURITY INVOKER) and sets maestro.tenant first, so row-level
-- security checks every row against the caller's tenant. No NOTIFY (see 0002).
--
-- Nullable values travel as '' (text/jsonb, NULLIF) or as a value plus a flag (timestamps,
-- booleans), so every array is non-null.
CREATE FUNCTION start_runs(
    p_tenant text,
    p_ids uuid[], p_workflow_names text[], p_workflow_versions integer[], p_latest boolean[],
    p_statuses text[], p_inputs text[], p_outputs text[], p_errors text[], p_idempotency_keys text[],
    p_started_bys text[], p_labels text[], p_nows timestamptz[], p_finished boolean[],
    p_deadlines timestamptz[], p_has_deadline boolean[], p_sla_deadlines timestamptz[], p_has_sla boolean[],
    p_sla_met boolean[], p_sla_known boolean[], p_last_event_seqs bigint[],
    p_step_runs uuid[], p_step_ids text[], p_step_attempts bigint[], p_step_types text[], p_step_task_queues text[],
    p_step_statuses text[],
    p_step_inputs text[], p_step_errors text[], p_step_error_classes text[], p_step_nows timestamptz[],
    p_step_visible_ats timestamptz[], p_step_ready boolean[], p_step_finished boolean[],
    p_timer_runs uuid[], p_timer_steps text[], p_timer_attempts bigint[], p_timer_kinds text[], p_timer_fire_ats timestamptz[],
    p_event_runs uuid[], p_event_seqs bigint[], p_event_types text[], p_event_steps text[], p_event_attempts bigint[],
    p_event_payloads text[], p_event_nows timestamptz[]
) RETURNS TABLE (run_id uuid, outcome text)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM set_config('maestro.tenant', p_tenant, true);
    RETURN QUERY
    WITH input AS (
        SELECT * FROM unnest(p_ids, p_workflow_names, p_workflow_versions, p_latest, p_statuses, p_inputs, p_outputs,
            p_errors, p_idempotency_keys, p_started_bys, p_labels, p_nows, p_finished, p_deadlines, p_has_deadline,
            p_sla_deadlines, p_has_sla, p_sla_met, p_sla_known, p_last_event_seqs)
            WITH ORDINALITY AS r(id, workflow_name, workflow_version, latest, status, input, output, error,
                idempotency_key, started_by, labels, now, finished, deadline, has_deadline, sla_deadline, has_sla,
                sla_met, sla_known, last_event_seq, ord)
    ), latest AS (
        SELECT d.name, max(d.version) AS version FROM workflow_definitions d
        WHERE d.tenant = p_tenant AND d.name IN (SELECT i.workflow_name FROM input i WHERE i.latest)
        GROUP BY d.name
    ), fresh AS (
        SELECT i.* FROM input i LEFT JOIN latest l ON l.name = i.workflow_name
        WHERE NOT i.latest OR i.workflow_version IS NOT DISTINCT FROM l.version
    ), created AS (
        INSERT INTO runs (id, tenant, workflow_name, workflow_version, status, input, output, error,
            idempotency_key, started_by, labels, created_at, started_at, finished_at, deadline,
            sla_deadline, sla_met, last_event_seq, updated_at)
        SELECT f.id, p_tenant, f.workflow_name, f.workflow_version, f.status, f.input::jsonb,
            NULLIF(f.output, '')::jsonb, NULLIF(f.error, '')::jsonb, NULLIF(f.idempotency_key, ''),
            NULLIF(f.started_by, ''), f.labels::jsonb, f.now, f.now, CASE WHEN f.finished THEN f.now END,
            CASE WHEN f.has_deadline THEN f.deadline END, CASE WHEN f.has_sla THEN f.sla_deadline END,
            CASE WHEN f.sla_known THEN f.sla_met END, f.last_event_seq, f.now
        FROM fresh f ORDER BY f.ord
        ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING runs.id
    ), steps AS (
        INSERT INTO step_executions (tenant, run_id, step_id, attempt, step_type, task_queue, status, input, ready_at,
            visible_at, error, error_class, finished_at, created_at)
        SELECT p_tenant, s.run_id, s.step_id, s.attempt, s.step_type, s.task_queue, s.status, NULLIF(s.input, '')::jsonb,
            CASE WHEN s.ready THEN s.now END, CASE WHEN s.status = 'READY' THEN s.visible_at END,
            NULLIF(s.error, '')::jsonb, NULLIF(s.error_class, ''), CASE WHEN s.finished THEN s.now END, s.now
        FROM unnest(p_step_runs, p_step_ids, p_step_attempts, p_step_types, p_step_task_queues, p_step_statuses,
            p_step_inputs, p_step_errors, p_step_error_classes, p_step_nows, p_step_visible_ats, p_step_ready, p_step_finished)
            AS s(run_id, step_id, attempt, step_type, task_queue, status, input, error, error_class, now, visible_at, ready,
                finished)
        WHERE s.run_id IN (SELECT c.id FROM created c)
    ), timers AS (
        INSERT INTO timers (tenant, run_id, step_id, attempt, kind, fire_at)
        SELECT p_tenant, t.run_id, NULLIF(t.step_id, ''), NULLIF(t.attempt, 0), t.kind, t.fire_at
        FROM unnest(p_timer_runs, p_timer_steps, p_timer_attempts, p_timer_kinds, p_timer_fire_ats)
            AS t(run_id, step_id, attempt, kind, fire_at)
        WHERE t.run_id IN (SELECT c.id FROM created c)
    ), events AS (
        INSERT INTO run_events (tenant, run_id, seq, type, step_id, attempt, payload, occurred_at)
        SELECT p_tenant, e.run_id, e.seq, e.type, NULLIF(e.step, ''), NULLIF(e.attempt, 0), e.payload::jsonb, e.now
        FROM unnest(p_event_runs, p_event_seqs, p_event_types, p_event_steps, p_event_attempts, p_event_payloads,
            p_event_nows) AS e(run_id, seq, type, step, attempt, payload, now)
        WHERE e.run_id IN (SELECT c.id FROM created c)
    )
    SELECT i.id,
        CASE WHEN i.id IN (SELECT c.id FROM created c) THEN 'created'
             WHEN i.id IN (SELECT f.id FROM fresh f) THEN 'exists'
             ELSE 'stale' END
    FROM input i ORDER BY i.ord;
END
$$;

-- maestro:down
DROP FUNCTION start_runs(text,
    uuid[], text[], integer[], boolean[], text[], text[], text[], text[], text[], text[], text[], timestamptz[],
    boolean[], timestamptz[], boolean[], timestamptz[], boolean[], boolean[], boolean[], bigint[],
    uuid[], text[], bigint[], text[], text[], text[], text[], text[], text[], timestamptz[], timestamptz[], boolean[], boolean[],
    uuid[], text[], bigint[], text[], timestamptz[],
    uuid[], bigint[], text[], text[], bigint[], text[], timestamptz[]);
