-- maestro:phase expand
-- workflow 0001: initial engine schema: definitions, templates, runs, step executions (with the ready-queue and lease indexes), timers, signals, run event log, tenant row-level security.
--
-- The migration runner applies this file in one transaction with
-- `SET LOCAL search_path = workflow` and `SET LOCAL ROLE <workflow service role>`. Names are
-- therefore unqualified, and the workflow role owns every object created here.
--
-- Conventions: timestamps are timestamptz; enumerations are text + CHECK; run and step statuses
-- are UPPER_CASE as in the API; JSON documents are jsonb.
--
-- Tenant consistency: every table carries `tenant`, and children reference their run through the
-- (tenant, run_id) composite foreign key. A step, event, timer or signal therefore always has the
-- same tenant as its run, which makes the row-level security below sound for child tables too.
-- The foreign keys sit inside CREATE TABLE on new, empty tables, so they need no
-- NOT VALID/VALIDATE sequence.
--
-- Hot-path notes (the goal is >= 1,000 one-step runs/s on 2 cores):
--   * runs has no foreign key to workflow_definitions (explained at runs).
--   * Most indexes are partial, so they hold only live work. Finished history stays out of the
--     queues.
--   * Time-based wakeups (sleep, step/run timeouts, SLA deadline, signal timeout) all go through
--     the single `timers` table. No sweeper scans runs or steps for expired deadlines.

-- =============================================================================================
-- Definitions and templates
-- =============================================================================================

-- A registered version is immutable. Registering a changed definition creates version + 1, and
-- registering an identical one (same checksum) returns the existing version.
-- definition holds the canonical JSON of the protobuf WorkflowDefinition.
-- checksum is the hex SHA-256 of that canonical JSON.
-- run_strategy / max_concurrent_runs mirror the definition's strategy, so the StartRun path can
-- read them without parsing the document.
CREATE TABLE workflow_definitions (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant               text NOT NULL CHECK (tenant <> '' AND tenant <> '*'),
    name                 text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    version              integer NOT NULL CHECK (version >= 1),
    description          text NOT NULL DEFAULT '',
    definition           jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    checksum             text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    labels               jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(labels) = 'object'),
    run_strategy         text NOT NULL DEFAULT 'parallel'
                         CHECK (run_strategy IN ('parallel', 'sequential', 'skip_if_running', 'cancel_previous')),
    max_concurrent_runs  integer CHECK (max_concurrent_runs IS NULL OR max_concurrent_runs >= 1),  -- NULL = unlimited (parallel only)
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text,
    UNIQUE (tenant, name, version)
);
-- Idempotent registration: "does this exact document already exist under this name?"
CREATE INDEX workflow_definitions_checksum_idx ON workflow_definitions (tenant, name, checksum);

-- A parametric template: a definition body with ${params.*} placeholders plus typed parameters and
-- validation rules. InstantiateTemplate validates the parameters, then registers (or starts) a
-- concrete workflow_definition. Templates are versioned like definitions.
CREATE TABLE templates (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text NOT NULL CHECK (tenant <> '' AND tenant <> '*'),
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    version      integer NOT NULL CHECK (version >= 1),
    description  text NOT NULL DEFAULT '',
    parameters   jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(parameters) = 'array'),  -- [{name, type, required, default, rules}]
    body         jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object'),                         -- definition with placeholders
    checksum     text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
    labels       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(labels) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,
    UNIQUE (tenant, name, version)
);

-- =============================================================================================
-- Runs
-- =============================================================================================
-- Status machine: QUEUED (waiting behind the run strategy) -> RUNNING -> COMPLETED | FAILED |
-- CANCELLED | TIMED_OUT. A run that is created already runnable starts in RUNNING.
-- SKIPPED records a start that skip_if_running refused. Keeping that row makes a retried
-- StartRun with the same idempotency key return the same answer.
--
-- The primary key is (tenant, id): every lookup already knows the tenant (from the token, or from
-- the step row for engine work), and the composite foreign keys of the child tables need exactly
-- this key. The id is a random uuid and globally unique in practice.
--
-- No foreign key to workflow_definitions, on purpose. Definitions are immutable and never
-- deleted while runs reference them. A foreign key would take FOR KEY SHARE on the definition row
-- at every run start, and under concurrent starts of the same workflow that one hot row turns
-- into MultiXact contention at the target rate. The service checks that the definition exists
-- when it resolves it.
--
-- last_event_seq allocates the dense per-run sequence of run_events. It is incremented under the
-- run's row lock (the DAG advance holds it), so seq order equals commit order within a run, and
-- WatchRun can resume from "seq > N" without missing a late commit.
-- fillfactor 80 leaves room on each page for HOT updates of the counter and timestamps (those
-- columns are not indexed).
CREATE TABLE runs (
    id                uuid NOT NULL DEFAULT gen_random_uuid(),
    tenant            text NOT NULL CHECK (tenant <> '' AND tenant <> '*'),
    workflow_name     text NOT NULL,
    workflow_version  integer NOT NULL CHECK (workflow_version >= 1),
    status            text NOT NULL CHECK (status IN (
                          'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT', 'SKIPPED')),
    input             jsonb NOT NULL DEFAULT '{}'::jsonb,
    output            jsonb,
    error             jsonb,      -- {message, class, step_id, details} for FAILED / TIMED_OUT / CANCELLED
    idempotency_key   text CHECK (idempotency_key <> ''),
    parent_run_id     uuid,       -- subworkflow: the parent run (same tenant)
    parent_step_id    text,       -- and the parent's step that waits for this run
    started_by        text,       -- subject (JWT sub) or 'schedule:<id>' / 'run:<id>'
    labels            jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- Run strategy bookkeeping. The strategy is snapshotted from the definition at start, so a
    -- later definition version cannot change how an existing run is queued.
    strategy          text NOT NULL DEFAULT 'parallel'
                      CHECK (strategy IN ('parallel', 'sequential', 'skip_if_running', 'cancel_previous')),
    queued_at         timestamptz,           -- set while QUEUED behind another run
    cancelled_by_run  uuid,                  -- cancel_previous: the newer run that displaced this one
    cancel_requested_at timestamptz,         -- CancelRun accepted; running steps are abandoned
    -- Timings and deadlines. Enforcement goes through `timers` (kinds run_timeout and sla).
    -- These columns are the record.
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deadline          timestamptz,           -- run timeout: hard, the run is TIMED_OUT after it
    sla_deadline      timestamptz,           -- soft SLA: a breach is recorded and reported, not a failure
    sla_met           boolean,               -- NULL until the run finishes (or the SLA timer fires first)
    last_event_seq    bigint NOT NULL DEFAULT 0 CHECK (last_event_seq >= 0),
    run_attempt       integer NOT NULL DEFAULT 1 CHECK (run_attempt >= 1),  -- +1 per RetryRun
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, parent_run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE,
    CHECK ((parent_run_id IS NULL) = (parent_step_id IS NULL)),
    CHECK (status NOT IN ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT', 'SKIPPED') OR finished_at IS NOT NULL)
) WITH (fillfactor = 80);

-- StartRun is idempotent per tenant and client key. The index is partial because most runs carry
-- no key, and NULLs need no uniqueness anyway. For INSERT ... ON CONFLICT, name the predicate:
--   ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
CREATE UNIQUE INDEX runs_idempotency_key_uidx
    ON runs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- ListRuns: newest first, optionally filtered by workflow or by status (keyset on created_at, id).
CREATE INDEX runs_list_idx          ON runs (tenant, created_at DESC, id);
CREATE INDEX runs_list_workflow_idx ON runs (tenant, workflow_name, created_at DESC, id);
CREATE INDEX runs_list_status_idx   ON runs (tenant, status, created_at DESC, id);

-- Run strategies: "is a run of this workflow RUNNING?" (skip_if_running, cancel_previous,
-- max_concurrent_runs) and "oldest QUEUED run to promote" (sequential). The index is partial so
-- it holds only live runs: it stays tiny however much history accumulates.
-- Concurrent starts of the same workflow serialise their strategy decision on
-- pg_advisory_xact_lock(hashtext(tenant || '/' || workflow_name)) in the application. A counter
-- row would serialise every start, even the unlimited ones.
CREATE INDEX runs_active_by_workflow_idx
    ON runs (tenant, workflow_name, status, created_at)
    WHERE status IN ('QUEUED', 'RUNNING');

-- Sub-workflows: cancel propagates down to the children, and the index backs ON DELETE CASCADE.
CREATE INDEX runs_parent_idx
    ON runs (tenant, parent_run_id)
    WHERE parent_run_id IS NOT NULL;

-- =============================================================================================
-- Step executions (one row per attempt) and the ready queue
-- =============================================================================================
-- Status machine per attempt:
--   PENDING   created but not runnable yet (unused by the default DAG advance, which creates
--             steps when they become ready; kept for fan-out bookkeeping)
--   READY     claimable once visible_at <= now() (visible_at in the future = retry backoff)
--   RUNNING   claimed under a lease (lease_owner, lease_token, lease_expires_at)
--   WAITING   parked without a lease: a durable sleep, a signal, a child run. A timer, signal or
--             child completion moves it on. It occupies no executor thread.
--   COMPLETED | FAILED | SKIPPED | CANCELLED | TIMED_OUT   terminal
-- A retry inserts attempt + 1 as READY with visible_at = now() + backoff. The old attempt keeps
-- its FAILED/TIMED_OUT row, so GetRun shows every attempt.
-- Fan-out (foreach) instances use step_id '<step>[<index>]'.
--
-- Fencing: every claim sets a fresh lease_token. A completion is accepted only when
--   WHERE (tenant, run_id, step_id, attempt) = (...) AND lease_token = $token AND status = 'RUNNING'
-- matches, so a stale worker (an old attempt, or a lease that was re-queued) is rejected.
--
-- task_queue: '' = executed in-process by the engine's executors (built-in step types);
-- otherwise the name of the external worker task queue the `task` step is routed to.
CREATE TABLE step_executions (
    tenant            text NOT NULL,
    run_id            uuid NOT NULL,
    step_id           text NOT NULL CHECK (step_id <> ''),
    attempt           integer NOT NULL CHECK (attempt >= 1),
    step_type         text NOT NULL,
    status            text NOT NULL CHECK (status IN (
                          'PENDING', 'READY', 'RUNNING', 'WAITING',
                          'COMPLETED', 'FAILED', 'SKIPPED', 'CANCELLED', 'TIMED_OUT')),
    task_queue        text NOT NULL DEFAULT '',
    -- Queue and lease.
    ready_at          timestamptz,          -- when it became READY (queue-wait metrics)
    visible_at        timestamptz,          -- not claimable before this (retry backoff)
    lease_owner       text,                 -- executor or worker identity
    lease_token       uuid,                 -- fencing token, new on every claim
    lease_expires_at  timestamptz,          -- extended by heartbeats
    heartbeat_at      timestamptz,
    heartbeat_details jsonb,                -- progress reported by a worker heartbeat
    -- Data.
    input             jsonb,                -- resolved input (expressions evaluated)
    output            jsonb,
    error             jsonb,                -- {message, details}
    error_class       text CHECK (error_class IN ('user', 'platform', 'timeout', 'cancelled')),
    retryable         boolean,              -- as reported by the failure; NULL = decide by policy
    child_run_id      uuid,                 -- subworkflow: the child run
    -- Timings.
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    PRIMARY KEY (tenant, run_id, step_id, attempt),
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE,
    CHECK (status <> 'READY' OR visible_at IS NOT NULL),
    CHECK (status <> 'RUNNING' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK ((error_class IS NULL) OR status IN ('FAILED', 'TIMED_OUT', 'CANCELLED'))
);
-- The primary key serves GetRun (all steps and attempts of one run) and the cascade from runs.

-- The ready queue (Conductor #2067): a narrow partial index holding only READY engine steps.
-- It is not a separate table, so a claim is a single UPDATE:
--   UPDATE step_executions s SET status = 'RUNNING', lease_owner = $me, lease_token = gen_random_uuid(),
--          lease_expires_at = now() + $lease, started_at = now()
--   FROM (SELECT tenant, run_id, step_id, attempt FROM step_executions
--         WHERE status = 'READY' AND task_queue = '' AND visible_at <= now()
--         ORDER BY visible_at LIMIT $batch
--         FOR UPDATE SKIP LOCKED) c
--   WHERE (s.tenant, s.run_id, s.step_id, s.attempt) = (c.tenant, c.run_id, c.step_id, c.attempt)
--   RETURNING s.*;
-- Because the index contains only READY rows and is ordered by visible_at, "ORDER BY visible_at
-- LIMIT n" reads the first n index entries. It never sorts the backlog, and completed history
-- never enters the index. It leads with visible_at, not tenant, on purpose: engine executors
-- claim FIFO across all tenants (under maestro.tenant = '*'). A tenant-led index would starve
-- tenants that sort late.
CREATE INDEX step_executions_ready_engine_idx
    ON step_executions (visible_at)
    WHERE status = 'READY' AND task_queue = '';

-- External workers poll one tenant's task queue (the worker authenticates as a service account of
-- that tenant), so their queue index leads with tenant and queue.
CREATE INDEX step_executions_ready_task_idx
    ON step_executions (tenant, task_queue, visible_at)
    WHERE status = 'READY' AND task_queue <> '';

-- Expired-lease recovery: RUNNING attempts whose executor or worker vanished are re-queued (or
-- retried per policy) as soon as the lease expires, by any replica. The index holds only the
-- in-flight set. It is cross-tenant like the engine queue, so it does not lead with tenant.
CREATE INDEX step_executions_lease_expiry_idx
    ON step_executions (lease_expires_at)
    WHERE status = 'RUNNING';

-- =============================================================================================
-- Timers: the single durable time wheel
-- =============================================================================================
-- kinds: sleep (durable sleep step), step_timeout, run_timeout, sla (record an SLA breach while
-- the run is still going), signal_timeout (wait_signal/approval deadline).
-- A due timer is claimed and deleted in the same transaction as its effect:
--   DELETE FROM timers WHERE id IN (SELECT id FROM timers WHERE fire_at <= now()
--       ORDER BY fire_at LIMIT $n FOR UPDATE SKIP LOCKED) RETURNING *;
-- The table holds only pending timers, so it stays small, and a fired timer cannot fire twice.
-- The uniqueness makes timer creation idempotent (ON CONFLICT DO NOTHING). Run-level timers have
-- step_id/attempt NULL, which NULLS NOT DISTINCT (PostgreSQL 15) treats as equal.
CREATE TABLE timers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant      text NOT NULL,
    run_id      uuid NOT NULL,
    step_id     text,
    attempt     integer,
    kind        text NOT NULL CHECK (kind IN ('sleep', 'step_timeout', 'run_timeout', 'sla', 'signal_timeout')),
    fire_at     timestamptz NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE,
    CHECK ((step_id IS NULL) = (attempt IS NULL)),
    CHECK (kind IN ('run_timeout', 'sla') OR step_id IS NOT NULL),
    CONSTRAINT timers_unique UNIQUE NULLS NOT DISTINCT (tenant, run_id, kind, step_id, attempt)
);
-- Engine-wide due scan (cross-tenant, so not tenant-led). The executor sleeps until min(fire_at),
-- which is the first entry of this index, or until a NOTIFY arrives.
CREATE INDEX timers_fire_at_idx ON timers (fire_at);
-- (tenant, run_id, ...) lookups, such as dropping a cancelled run's timers, use timers_unique.

-- =============================================================================================
-- Signals
-- =============================================================================================
-- SignalRun stores the signal even when no step waits for it yet, so a signal that arrives early
-- is not lost. A wait_signal/approval step consumes the oldest unconsumed signal with its name.
-- idempotency_key makes a retried SignalRun deliver once.
CREATE TABLE signals (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant            text NOT NULL,
    run_id            uuid NOT NULL,
    name              text NOT NULL CHECK (name <> ''),
    payload           jsonb NOT NULL DEFAULT '{}'::jsonb,
    sent_by           text,
    idempotency_key   text,
    received_at       timestamptz NOT NULL DEFAULT now(),
    consumed_at       timestamptz,
    consumed_by_step  text,
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE,
    CHECK ((consumed_at IS NULL) = (consumed_by_step IS NULL))
);
-- Partial: once consumed, a signal is history and never needs this lookup again.
CREATE INDEX signals_pending_idx
    ON signals (tenant, run_id, name, received_at)
    WHERE consumed_at IS NULL;
-- A retried SignalRun with the same key is a no-op. The index is deliberately not partial: its
-- (tenant, run_id) prefix also backs the ON DELETE CASCADE from runs for consumed signals. Keys
-- that are NULL stay distinct (the default), so signals without a key never conflict.
CREATE UNIQUE INDEX signals_idempotency_uidx
    ON signals (tenant, run_id, idempotency_key);

-- =============================================================================================
-- Run events: the append-only history (GetRunHistory, WatchRun)
-- =============================================================================================
-- seq is dense per run, 1, 2, 3, ..., taken from runs.last_event_seq under the run's row lock.
-- The key leads with tenant, like every index here (uniqueness is the same as (run_id, seq),
-- because run ids are unique). It serves history reads, WatchRun resumption ("seq > N") and the
-- cascade from runs.
-- The type set is open (e.g. RUN_STARTED, STEP_READY, STEP_STARTED, STEP_COMPLETED,
-- STEP_FAILED, STEP_RETRY_SCHEDULED, TIMER_FIRED, SIGNAL_RECEIVED, RUN_COMPLETED, SLA_MISSED,
-- STALE_COMPLETION_REJECTED), so the column has no CHECK list. New types need no migration.
-- Append-only is the service's contract. Rows leave only with their run (retention cascade).
CREATE TABLE run_events (
    tenant       text NOT NULL,
    run_id       uuid NOT NULL,
    seq          bigint NOT NULL CHECK (seq >= 1),
    type         text NOT NULL CHECK (type ~ '^[A-Z][A-Z0-9_]*$'),
    occurred_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    step_id      text,
    attempt      integer,
    payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant, run_id, seq),
    FOREIGN KEY (tenant, run_id) REFERENCES runs (tenant, id) ON DELETE CASCADE
);

-- =============================================================================================
-- Tenant isolation in the database: row-level security
-- =============================================================================================
-- Every tenant-scoped table gets ENABLE + FORCE ROW LEVEL SECURITY. FORCE is essential: the
-- service role owns these tables, and without FORCE an owner bypasses its own policies.
-- (Superusers and BYPASSRLS roles always bypass RLS, so the service role must be neither.)
--
-- The service states whose rows it may touch in a per-transaction setting:
--   SET LOCAL maestro.tenant = '<tenant from the verified token>'   -- API requests
--   SET LOCAL maestro.tenant = '*'                                  -- engine system work
-- The '*' branch exists because the engine's executors, timer loop, lease reaper and worker
-- dispatch claim work across all tenants (one FIFO ready queue). The engine sets '*' explicitly,
-- and only in those code paths. Request handlers never do. A request's tenant comes from the
-- verified token and can never be '*' (auth restricts tenant ids to [a-z0-9_-], and the CHECKs on
-- definitions and runs reject '*' as a tenant). current_setting(..., true) returns NULL (never
-- set) or '' (set earlier in the session, then reset) when nothing was set. Both match no tenant
-- and are not '*', so a query that forgot to set the tenant sees no rows and cannot write: it
-- fails closed.
-- Each policy is FOR ALL with the same WITH CHECK, so no row can be inserted into or moved to
-- another tenant either.
-- Later migrations that change data in these tables must SET LOCAL maestro.tenant = '*' first.

ALTER TABLE workflow_definitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflow_definitions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON workflow_definitions
    USING (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*')
    WITH CHECK (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*');

ALTER TABLE templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE templates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON templates
    USING (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*')
    WITH CHECK (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*');

ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON runs
    USING (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*')
    WITH CHECK (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*');

ALTER TABLE step_executions ENABLE ROW LEVEL SECURITY;
ALTER TABLE step_executions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON step_executions
    USING (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*')
    WITH CHECK (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*');

ALTER TABLE timers ENABLE ROW LEVEL SECURITY;
ALTER TABLE timers FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON timers
    USING (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*')
    WITH CHECK (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*');

ALTER TABLE signals ENABLE ROW LEVEL SECURITY;
ALTER TABLE signals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON signals
    USING (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*')
    WITH CHECK (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*');

ALTER TABLE run_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON run_events
    USING (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*')
    WITH CHECK (tenant = current_setting('maestro.tenant', true) OR current_setting('maestro.tenant', true) = '*');
