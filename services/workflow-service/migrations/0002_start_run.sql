-- maestro:phase expand
-- workflow 0002: start_run(), StartRun's whole first transition in one statement.
--
-- StartRun plans the new run in the service (definition, input validation, the first ready
-- steps, events, timers) and writes all of it here in one round trip and one commit. The
-- function runs as its caller (SECURITY INVOKER), sets maestro.tenant for the transaction first,
-- so the row-level security on every table still checks each row against the caller's tenant.
--
-- It does not NOTIFY: a NOTIFY holds a database-wide lock until its transaction's commit is
-- flushed, which would serialise every start's commit. The service wakes executors after the
-- commit instead, with one NOTIFY per burst.
--
-- Returns 'created'; 'exists' when the idempotency key already started a run (the caller reads
-- it); 'stale' when the caller asked for the latest version and planned with an older one (a
-- version was registered meanwhile: the caller refreshes and plans again).
CREATE FUNCTION start_run(
    p_tenant text, p_id uuid, p_workflow_name text, p_workflow_version integer, p_latest boolean,
    p_status text, p_input jsonb, p_output jsonb, p_error jsonb, p_idempotency_key text,
    p_started_by text, p_labels jsonb, p_now timestamptz, p_finished boolean,
    p_deadline timestamptz, p_sla_deadline timestamptz, p_sla_met boolean, p_last_event_seq bigint,
    p_step_ids text[], p_step_attempts bigint[], p_step_types text[], p_step_statuses text[],
    p_step_inputs text[], p_step_errors text[], p_step_error_classes text[],
    p_step_visible_ats timestamptz[], p_step_ready boolean[], p_step_finished boolean[],
    p_timer_kinds text[], p_timer_fire_ats timestamptz[],
    p_event_types text[], p_event_steps text[], p_event_attempts bigint[], p_event_payloads text[]
) RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    inserted integer;
BEGIN
    PERFORM set_config('maestro.tenant', p_tenant, true);
    IF p_latest AND p_workflow_version IS DISTINCT FROM (
        SELECT max(version) FROM workflow_definitions WHERE tenant = p_tenant AND name = p_workflow_name) THEN
        RETURN 'stale';
    END IF;
    INSERT INTO runs (id, tenant, workflow_name, workflow_version, status, input, output, error,
        idempotency_key, started_by, labels, created_at, started_at, finished_at, deadline,
        sla_deadline, sla_met, last_event_seq, updated_at)
    VALUES (p_id, p_tenant, p_workflow_name, p_workflow_version, p_status, p_input, p_output, p_error,
        p_idempotency_key, p_started_by, p_labels, p_now, p_now, CASE WHEN p_finished THEN p_now END,
        p_deadline, p_sla_deadline, p_sla_met, p_last_event_seq, p_now)
    ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = 0 THEN
        RETURN 'exists';
    END IF;
    IF cardinality(p_step_ids) > 0 THEN
        INSERT INTO step_executions (tenant, run_id, step_id, attempt, step_type, status, input, ready_at,
            visible_at, error, error_class, finished_at, created_at)
        SELECT p_tenant, p_id, s.step_id, s.attempt, s.step_type, s.status, NULLIF(s.input, '')::jsonb,
            CASE WHEN s.ready THEN p_now END, CASE WHEN s.status = 'READY' THEN s.visible_at END,
            NULLIF(s.error, '')::jsonb, NULLIF(s.error_class, ''), CASE WHEN s.finished THEN p_now END, p_now
        FROM unnest(p_step_ids, p_step_attempts, p_step_types, p_step_statuses, p_step_inputs, p_step_errors,
            p_step_error_classes, p_step_visible_ats, p_step_ready, p_step_finished)
            AS s(step_id, attempt, step_type, status, input, error, error_class, visible_at, ready, finished);
    END IF;
    IF cardinality(p_timer_kinds) > 0 THEN
        INSERT INTO timers (tenant, run_id, kind, fire_at)
        SELECT p_tenant, p_id, t.kind, t.fire_at FROM unnest(p_timer_kinds, p_timer_fire_ats) AS t(kind, fire_at);
    END IF;
    INSERT INTO run_events (tenant, run_id, seq, type, step_id, attempt, payload, occurred_at)
    SELECT p_tenant, p_id, e.seq, e.type, NULLIF(e.step, ''), NULLIF(e.attempt, 0), e.payload::jsonb, p_now
    FROM unnest(p_event_types, p_event_steps, p_event_attempts, p_event_payloads)
        WITH ORDINALITY AS e(type, step, attempt, payload, seq);
    RETURN 'created';
END
$$;

-- maestro:down
DROP FUNCTION start_run(text, uuid, text, integer, boolean, text, jsonb, jsonb, jsonb, text, text, jsonb,
    timestamptz, boolean, timestamptz, timestamptz, boolean, bigint, text[], bigint[], text[], text[],
    text[], text[], text[], timestamptz[], boolean[], boolean[], text[], timestamptz[], text[], text[],
    bigint[], text[]);
