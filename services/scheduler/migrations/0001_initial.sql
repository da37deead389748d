-- maestro:phase expand
-- scheduler 0001: initial schema: schedules (with the due-time index), fire history with idempotency keys, buffered fires for the buffer_one/buffer_all overlap policies.
--
-- The migration runner applies this file in one transaction with
-- `SET LOCAL search_path = scheduler` and `SET LOCAL ROLE <scheduler service role>`. Names are
-- therefore unqualified, and the scheduler role owns every object created here.
--
-- The scheduler starts runs only through workflow-service's gRPC API. run_id here is a reference
-- into another service, never a foreign key.
-- Child tables reference schedules through (tenant, schedule_id), so a fire can never belong to
-- another tenant's schedule. The foreign keys sit inside CREATE TABLE on new, empty tables, so
-- they need no NOT VALID/VALIDATE sequence.

-- ---------------------------------------------------------------------------------------------
-- Schedules
-- ---------------------------------------------------------------------------------------------
-- spec (jsonb), for example:
--   {"cron": ["0 */5 * * * *", "@hourly"], "intervals": [{"every": "5m", "offset": "30s"}],
--    "start_at": "...", "end_at": "...", "jitter": "10s"}
-- The specs are evaluated in time_zone (an IANA name, default UTC). The service validates the zone
-- name. A CHECK cannot, because the tz database changes under a running database.
-- target (jsonb): {"workflow": "hello-world", "version": 3 | null (latest), "input": {...},
--                  "template": {"name": ..., "parameters": {...}}}
-- overlap_policy: what a fire does while an earlier run of this schedule is still going:
--   skip | buffer_one | buffer_all | cancel_other | terminate_other | allow_all
-- catchup_window: after downtime, missed fires newer than now() - catchup_window are started (per
-- overlap_policy). Older ones are recorded as 'missed' and not started.
-- pause_on_failure_after: NULL = never; N = pause after N consecutive failed runs (and say why in
-- notes).
-- next_fire_at: NULL when the schedule has no future fire (end_at passed, or spec exhausted).
-- version: optimistic concurrency for API updates (UPDATE ... WHERE id = $1 AND version = $2).
-- The firing loop claims rows with FOR UPDATE SKIP LOCKED instead and bumps version too, so a
-- concurrent API edit of a schedule that was just fired fails and re-reads it.
-- fillfactor 90 leaves room for HOT updates of the unindexed bookkeeping columns
-- (last_fire_at, consecutive_failures, version).
CREATE TABLE schedules (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant                  text NOT NULL CHECK (tenant <> ''),
    name                    text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    description             text NOT NULL DEFAULT '',
    spec                    jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    time_zone               text NOT NULL DEFAULT 'UTC' CHECK (time_zone <> ''),
    target                  jsonb NOT NULL CHECK (jsonb_typeof(target) = 'object'),
    overlap_policy          text NOT NULL DEFAULT 'skip' CHECK (overlap_policy IN (
                                'skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all')),
    catchup_window          interval NOT NULL DEFAULT interval '1 hour' CHECK (catchup_window >= interval '0'),
    pause_on_failure_after  integer CHECK (pause_on_failure_after IS NULL OR pause_on_failure_after >= 1),
    paused                  boolean NOT NULL DEFAULT false,
    notes                   text NOT NULL DEFAULT '',   -- why it is paused (by a user or by pause-on-failure)
    paused_at               timestamptz,
    paused_by               text,                       -- subject, or 'system:pause_on_failure'
    next_fire_at            timestamptz,
    last_fire_at            timestamptz,                -- nominal time of the last fire that was acted on
    consecutive_failures    integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    version                 bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at              timestamptz NOT NULL DEFAULT now(),
    created_by              text,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name),          -- also the index for ListSchedules (tenant, ordered by name)
    UNIQUE (tenant, id),            -- target of the (tenant, schedule_id) foreign keys below
    CHECK (paused OR paused_at IS NULL)
) WITH (fillfactor = 90);

-- The due index. The tick sleeps until the first entry (SELECT min(next_fire_at) reads one index
-- tuple) or until a NOTIFY says a schedule changed. Due rows are claimed with
--   SELECT ... FROM schedules WHERE NOT paused AND next_fire_at <= now()
--   ORDER BY next_fire_at LIMIT $n FOR UPDATE SKIP LOCKED
-- by any replica. Paused and finished schedules are left out of the index (partial), so with
-- 100k schedules the index holds only the ones that can fire and no tick scans the table.
-- It leads with next_fire_at, not tenant, on purpose: firing is one global time order across
-- tenants.
CREATE INDEX schedules_due_idx
    ON schedules (next_fire_at)
    WHERE NOT paused AND next_fire_at IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Fires (history and in-flight runs)
-- ---------------------------------------------------------------------------------------------
-- One row per nominal fire time that the scheduler acted on: started, skipped by the overlap
-- policy, or missed (outside the catch-up window). fire_time is the nominal time from the spec,
-- before jitter. The UNIQUE (schedule, fire_time) plus idempotency_key (derived from
-- (schedule id, fire_time) and passed to StartRun) make a crash between "run started" and "fire
-- recorded" harmless: the retry finds or creates the row, and StartRun returns the same run.
-- A backfill of a time that already fired is therefore a no-op for that time.
--
-- status:
--   starting      claimed, StartRun not yet confirmed (re-driven after a crash with the same key)
--   running       run started, outcome unknown
--   completed | failed | cancelled | timed_out | terminated   run outcome (failures feed pause-on-failure)
--   skipped       overlap policy 'skip' (or buffer full) refused this fire
--   missed        older than the catch-up window after downtime
--   start_failed  StartRun failed permanently (e.g. the workflow does not exist); see error
-- lag = started_at - fire_time (the fire-lag histogram of the metrics).
CREATE TABLE schedule_fires (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           text NOT NULL,
    schedule_id      uuid NOT NULL,
    fire_time        timestamptz NOT NULL,
    trigger          text NOT NULL DEFAULT 'schedule' CHECK (trigger IN ('schedule', 'catchup', 'buffered', 'trigger_now', 'backfill')),
    idempotency_key  text NOT NULL CHECK (idempotency_key <> ''),
    status           text NOT NULL CHECK (status IN (
                         'starting', 'running', 'completed', 'failed', 'cancelled', 'timed_out',
                         'terminated', 'skipped', 'missed', 'start_failed')),
    run_id           uuid,                    -- workflow-service run id (no FK: another service's data)
    claimed_by       text,                    -- replica that acted on the fire
    started_at       timestamptz,             -- when StartRun was confirmed
    finished_at      timestamptz,             -- when the run's outcome was observed
    lag              interval,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, schedule_id) REFERENCES schedules (tenant, id) ON DELETE CASCADE,
    -- Also the index for fire history, newest first (backward scan), and for the cascade.
    CONSTRAINT schedule_fires_schedule_time_key UNIQUE (tenant, schedule_id, fire_time),
    CONSTRAINT schedule_fires_idempotency_key UNIQUE (tenant, idempotency_key),
    CHECK (status NOT IN ('running', 'completed', 'failed', 'cancelled', 'timed_out', 'terminated') OR run_id IS NOT NULL)
);
-- In-flight fires: the overlap check ("is a run of this schedule still going?"), the outcome
-- follower, and re-driving 'starting' rows after a crash. The index is partial, so it holds only
-- live fires and stays small however long the history grows.
CREATE INDEX schedule_fires_active_idx
    ON schedule_fires (tenant, schedule_id, fire_time)
    WHERE status IN ('starting', 'running');

-- ---------------------------------------------------------------------------------------------
-- Buffered fires (overlap policies buffer_one / buffer_all)
-- ---------------------------------------------------------------------------------------------
-- Fires that came due while a run was still going. When that run finishes, the oldest buffered
-- fire is started (trigger 'buffered' in schedule_fires) and its row here is deleted in the same
-- transaction. buffer_one keeps at most one row per schedule (the service replaces or skips).
-- buffer_all keeps them all, in fire_time order.
CREATE TABLE buffered_fires (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text NOT NULL,
    schedule_id  uuid NOT NULL,
    fire_time    timestamptz NOT NULL,
    trigger      text NOT NULL DEFAULT 'schedule' CHECK (trigger IN ('schedule', 'catchup', 'trigger_now', 'backfill')),
    buffered_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, schedule_id) REFERENCES schedules (tenant, id) ON DELETE CASCADE,
    -- Also the FIFO index: the oldest buffered fire of a schedule is the first entry.
    UNIQUE (tenant, schedule_id, fire_time)
);
