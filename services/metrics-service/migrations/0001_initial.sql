-- maestro:phase expand
-- metrics 0001: initial schema: series, per-minute and hourly aggregates with latency histograms, SLOs, alerts, silences, receivers, notification outbox.
--
-- The migration runner applies this file in one transaction with
-- `SET LOCAL search_path = metrics` and `SET LOCAL ROLE <metrics service role>`. Names are
-- therefore unqualified, and the metrics role owns every object created here.
--
-- Child tables reference their parent through (tenant, id) composite foreign keys, so an aggregate,
-- alert or notification can never point at another tenant's series, SLO or receiver. The foreign
-- keys sit inside CREATE TABLE on new, empty tables, so they need no NOT VALID/VALIDATE sequence.
-- The PostgreSQL 15 form `ON DELETE SET NULL (column)` clears only the id column of a composite
-- key and leaves the NOT NULL tenant column alone.

-- ---------------------------------------------------------------------------------------------
-- Series
-- ---------------------------------------------------------------------------------------------
-- One series per (tenant, kind, workflow or route, step). kind:
--   run      workflow_or_route = workflow name, step_id NULL
--   step     workflow_or_route = workflow name, step_id = the step
--   request  workflow_or_route = gateway route, e.g. 'POST /v1/runs', step_id NULL
-- Series are created on first sight by ingest:
--   INSERT ... ON CONFLICT (tenant, kind, workflow_or_route, step_id) DO NOTHING
-- NULLS NOT DISTINCT (PostgreSQL 15) makes NULL step_ids collide as intended.
CREATE TABLE series (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant             text NOT NULL CHECK (tenant <> ''),
    kind               text NOT NULL CHECK (kind IN ('run', 'step', 'request')),
    workflow_or_route  text NOT NULL CHECK (workflow_or_route <> ''),
    step_id            text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT series_identity_key UNIQUE NULLS NOT DISTINCT (tenant, kind, workflow_or_route, step_id),
    UNIQUE (tenant, id),   -- target of the (tenant, series_id) foreign keys
    CHECK ((kind = 'step') = (step_id IS NOT NULL))
);

-- ---------------------------------------------------------------------------------------------
-- Aggregates: per minute (retained e.g. 7 days) and per hour (retained e.g. 90 days)
-- ---------------------------------------------------------------------------------------------
-- Counts per bucket:
--   total        all events
--   success      status ok (run/step COMPLETED, request not 5xx)
--   failed       status failed (FAILED, TIMED_OUT, request 5xx). total - success - failed = other
--                (e.g. CANCELLED, which the default SLIs count neither as good nor as bad)
--   sla_met / sla_missed   events that carried an SLA verdict
--   latency_buckets        histogram of durations, see below
--   sum_duration_ms        sum of durations (the mean is sum_duration_ms / total)
--
-- latency_buckets is bigint[21]. It is NON-cumulative (element i counts only the events in its own
-- bucket), so merging two buckets is an element-wise sum and sum(latency_buckets) = total.
-- The bucket upper bounds are fixed, in milliseconds, inclusive (le), with SQL array index:
--    [1]  <= 1          [2]  <= 2.5        [3]  <= 5          [4]  <= 10         [5]  <= 25
--    [6]  <= 50         [7]  <= 100        [8]  <= 250        [9]  <= 500        [10] <= 1000
--    [11] <= 2500       [12] <= 5000       [13] <= 10000      [14] <= 30000      [15] <= 60000
--    [16] <= 120000     [17] <= 300000     [18] <= 600000     [19] <= 1800000    [20] <= 3600000
--    [21] +Inf
-- They cover gateway requests (ms) as well as workflows (the 30 s and 5 min SLA thresholds are
-- exact bounds, so "within 30 s" and "P95 < 5 min" are read off the histogram without
-- interpolation). Changing the bounds means a new column or table in a new migration, never a
-- reinterpretation of stored rows. The service must keep the same list as a constant. The list
-- is also attached to the columns with COMMENT ON COLUMN, so it can be read from the catalog.
--
-- bucket_start must lie exactly on the minute (or hour) boundary. The CHECK uses the epoch, so
-- it is independent of the session TimeZone (date_trunc on timestamptz is not: it truncates in
-- local time, which is wrong for zones with :30 or :45 offsets).
CREATE TABLE series_minute (
    tenant           text NOT NULL,
    series_id        bigint NOT NULL,
    bucket_start     timestamptz NOT NULL CHECK (extract(epoch FROM bucket_start) % 60 = 0),
    total            bigint NOT NULL DEFAULT 0 CHECK (total >= 0),
    success          bigint NOT NULL DEFAULT 0 CHECK (success >= 0),
    failed           bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    sla_met          bigint NOT NULL DEFAULT 0 CHECK (sla_met >= 0),
    sla_missed       bigint NOT NULL DEFAULT 0 CHECK (sla_missed >= 0),
    latency_buckets  bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[21])
                     CHECK (array_ndims(latency_buckets) = 1 AND cardinality(latency_buckets) = 21
                            AND array_lower(latency_buckets, 1) = 1),
    sum_duration_ms  bigint NOT NULL DEFAULT 0 CHECK (sum_duration_ms >= 0),
    PRIMARY KEY (tenant, series_id, bucket_start),
    FOREIGN KEY (tenant, series_id) REFERENCES series (tenant, id) ON DELETE CASCADE,
    CHECK (success + failed <= total),
    CHECK (sla_met + sla_missed <= total)
);
-- The primary key serves ingest upserts (ON CONFLICT (tenant, series_id, bucket_start)), SLO
-- status range reads per series, and the cascade.
-- Retention and rollup select by time across all series ("minutes older than 7 days", "the
-- minutes of the last complete hour"). Rows arrive in time order, so a BRIN index is a few pages
-- instead of a second B-tree on a table of millions of rows. It is global, not tenant-led, on
-- purpose.
CREATE INDEX series_minute_bucket_brin ON series_minute USING brin (bucket_start);

CREATE TABLE series_hour (
    tenant           text NOT NULL,
    series_id        bigint NOT NULL,
    bucket_start     timestamptz NOT NULL CHECK (extract(epoch FROM bucket_start) % 3600 = 0),
    total            bigint NOT NULL DEFAULT 0 CHECK (total >= 0),
    success          bigint NOT NULL DEFAULT 0 CHECK (success >= 0),
    failed           bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    sla_met          bigint NOT NULL DEFAULT 0 CHECK (sla_met >= 0),
    sla_missed       bigint NOT NULL DEFAULT 0 CHECK (sla_missed >= 0),
    latency_buckets  bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[21])
                     CHECK (array_ndims(latency_buckets) = 1 AND cardinality(latency_buckets) = 21
                            AND array_lower(latency_buckets, 1) = 1),
    sum_duration_ms  bigint NOT NULL DEFAULT 0 CHECK (sum_duration_ms >= 0),
    PRIMARY KEY (tenant, series_id, bucket_start),
    FOREIGN KEY (tenant, series_id) REFERENCES series (tenant, id) ON DELETE CASCADE,
    CHECK (success + failed <= total),
    CHECK (sla_met + sla_missed <= total)
);
-- A status query over 30 days reads about 720 hourly rows per series plus the minutes of the
-- partial hours at both ends, instead of 43,200 minute rows.
CREATE INDEX series_hour_bucket_brin ON series_hour USING brin (bucket_start);

COMMENT ON COLUMN series_minute.latency_buckets IS
    'Non-cumulative duration histogram, 21 buckets, upper bounds in ms (le): 1,2.5,5,10,25,50,100,250,500,1000,2500,5000,10000,30000,60000,120000,300000,600000,1800000,3600000,+Inf';
COMMENT ON COLUMN series_hour.latency_buckets IS
    'Non-cumulative duration histogram, 21 buckets, upper bounds in ms (le): 1,2.5,5,10,25,50,100,250,500,1000,2500,5000,10000,30000,60000,120000,300000,600000,1800000,3600000,+Inf';

-- Mark up to which point the rollup has run, so a restarted rollup neither skips nor doubles an
-- hour. The row is global (one per installation).
CREATE TABLE rollup_progress (
    name            text PRIMARY KEY,          -- e.g. 'minute_to_hour'
    completed_upto  timestamptz NOT NULL,      -- every bucket before this has been rolled up
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- SLOs
-- ---------------------------------------------------------------------------------------------
-- spec (jsonb, OpenSLO-shaped where it fits), for example:
--   {"sli": {"ratio": {"good": "success", "total": "total"} | {"latency_le_ms": 30000} | {"sla": true}},
--    "series": {"kind": "run", "workflow": "hello-world"},
--    "alerting": {"page": [...], "ticket": [...]}}
-- objective is a fraction: 99.9 % is 0.999. rolling_window is the error-budget window (e.g.
-- 30 days). The column is not named "window" because WINDOW is a reserved word in SQL.
-- source: 'default' (shipped), 'yaml' (loaded from files), 'api'.
CREATE TABLE slos (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant          text NOT NULL CHECK (tenant <> ''),
    name            text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    description     text NOT NULL DEFAULT '',
    spec            jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    objective       double precision NOT NULL CHECK (objective > 0 AND objective < 1),
    rolling_window  interval NOT NULL DEFAULT interval '30 days'
                    CHECK (rolling_window >= interval '1 hour' AND rolling_window <= interval '400 days'),
    source          text NOT NULL DEFAULT 'api' CHECK (source IN ('default', 'yaml', 'api')),
    enabled         boolean NOT NULL DEFAULT true,
    labels          jsonb NOT NULL DEFAULT '{}'::jsonb,
    version         bigint NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name),
    UNIQUE (tenant, id)
);

-- ---------------------------------------------------------------------------------------------
-- Receivers and routing
-- ---------------------------------------------------------------------------------------------
-- type: webhook (generic JSON), slack (Slack-compatible webhook payload), pagerduty (Events v2).
-- routing (jsonb): which alerts this receiver takes, e.g. {"severities": ["critical"], "match": {...}}.
-- Escalation: an unacknowledged critical alert that was delivered here is sent on to
-- next_receiver_id after escalate_after. Credentials (a PagerDuty routing key, a Slack token) are
-- never stored: secret_ref names a secret that the service resolves from its configuration.
CREATE TABLE receivers (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant            text NOT NULL CHECK (tenant <> ''),
    name              text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    type              text NOT NULL CHECK (type IN ('webhook', 'slack', 'pagerduty')),
    url               text NOT NULL CHECK (url ~ '^https?://'),
    secret_ref        text,
    routing           jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(routing) = 'object'),
    escalate_after    interval CHECK (escalate_after IS NULL OR escalate_after > interval '0'),
    next_receiver_id  uuid,
    enabled           boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name),
    UNIQUE (tenant, id),
    FOREIGN KEY (tenant, next_receiver_id) REFERENCES receivers (tenant, id) ON DELETE SET NULL (next_receiver_id),
    CHECK (next_receiver_id IS DISTINCT FROM id),
    -- One-way implication on purpose: deleting the next receiver sets next_receiver_id to NULL
    -- and leaves escalate_after behind, where it is inert.
    CHECK (next_receiver_id IS NULL OR escalate_after IS NOT NULL)
);
-- Backs ON DELETE SET NULL when a receiver that others escalate to is deleted.
CREATE INDEX receivers_next_idx ON receivers (tenant, next_receiver_id) WHERE next_receiver_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Alerts
-- ---------------------------------------------------------------------------------------------
-- Lifecycle: pending (condition true, waiting out its `for`) -> firing -> resolved. A rule that
-- fires again after resolution opens a new row. The fingerprint (a hash of tenant, SLO, rule and
-- labels) identifies "the same alert": at most one non-resolved row per fingerprint (partial
-- unique index below), and the resolved rows remain as history.
-- suppressed: 'inhibited' (a firing critical alert for the same SLO suppresses the warning) or
-- 'silenced' (silence_id). The alert keeps its state, but no notification goes out.
-- Escalation: escalation_level counts the steps taken along the receivers' next_receiver_id
-- chain. acknowledged_at stops it.
-- slo_id is cleared (not cascaded) when the SLO is deleted, so the alert history survives.
CREATE TABLE alerts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant             text NOT NULL CHECK (tenant <> ''),
    fingerprint        text NOT NULL,
    slo_id             uuid,
    rule               text NOT NULL,            -- e.g. 'page-1h-5m', 'ticket-1d-2h'
    group_key          text NOT NULL DEFAULT '', -- notifications are grouped by this key
    severity           text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    state              text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    labels             jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(labels) = 'object'),
    annotations        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(annotations) = 'object'),
    observed           jsonb NOT NULL DEFAULT '{}'::jsonb,  -- burn rates / SLI per window at the last evaluation
    suppressed         text CHECK (suppressed IN ('inhibited', 'silenced')),
    silence_id         uuid,
    pending_since      timestamptz NOT NULL DEFAULT now(),
    fired_at           timestamptz,
    resolved_at        timestamptz,
    last_evaluated_at  timestamptz NOT NULL DEFAULT now(),
    last_notified_at   timestamptz,
    acknowledged_at    timestamptz,
    acknowledged_by    text,
    escalation_level   integer NOT NULL DEFAULT 0 CHECK (escalation_level >= 0),
    escalated_at       timestamptz,
    UNIQUE (tenant, id),
    FOREIGN KEY (tenant, slo_id) REFERENCES slos (tenant, id) ON DELETE SET NULL (slo_id),
    CHECK (state <> 'firing' OR fired_at IS NOT NULL),
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL)),
    CHECK ((suppressed IS NOT DISTINCT FROM 'silenced') = (silence_id IS NOT NULL))
);
-- Dedup: one active alert per fingerprint. The index is partial, because resolved history may
-- repeat a fingerprint any number of times. The evaluator's "all active alerts" read and the
-- inhibition check both walk this small index.
CREATE UNIQUE INDEX alerts_active_fingerprint_uidx
    ON alerts (tenant, fingerprint)
    WHERE state <> 'resolved';
-- Listing and history: alerts of a tenant by state, newest first.
CREATE INDEX alerts_list_idx ON alerts (tenant, state, pending_since DESC);
-- Alerts of one SLO (SLO status page; backs ON DELETE SET NULL).
CREATE INDEX alerts_slo_idx ON alerts (tenant, slo_id, pending_since DESC) WHERE slo_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- Silences
-- ---------------------------------------------------------------------------------------------
-- Alertmanager-style matchers: [{"name": "slo", "value": "hello-world", "is_regex": false,
-- "is_equal": true}, ...]. All matchers must match. A silence is active while
-- starts_at <= now() < ends_at. Expiring it early sets ends_at = now() (the row stays as history).
CREATE TABLE silences (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant      text NOT NULL CHECK (tenant <> ''),
    matchers    jsonb NOT NULL CHECK (jsonb_typeof(matchers) = 'array' AND jsonb_array_length(matchers) >= 1),
    starts_at   timestamptz NOT NULL DEFAULT now(),
    ends_at     timestamptz NOT NULL,
    comment     text NOT NULL DEFAULT '',
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
-- "Active silences of a tenant": ends_at > now() reads only the tail of the index, however much
-- expired history accumulates.
CREATE INDEX silences_active_idx ON silences (tenant, ends_at);

-- ---------------------------------------------------------------------------------------------
-- Notification outbox
-- ---------------------------------------------------------------------------------------------
-- The alert transition and its notification rows are written in the same transaction. A
-- dispatcher then delivers each row and retries with exponential backoff (attempts,
-- next_attempt_at, last_error) until it succeeds. A receiver outage therefore delays
-- notifications but loses none. payload is the rendered body for the receiver's type (webhook,
-- Slack or PagerDuty Events v2), so a retry sends exactly the same bytes, including PagerDuty's
-- dedup_key.
-- dedupe_key prevents two evaluator replicas from enqueueing the same notification (e.g.
-- '<alert id>:firing:<escalation level>').
CREATE TABLE notification_outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           text NOT NULL,
    receiver_id      uuid NOT NULL,
    alert_id         uuid,
    kind             text NOT NULL CHECK (kind IN ('firing', 'resolved', 'escalation', 'test')),
    dedupe_key       text NOT NULL,
    payload          jsonb NOT NULL,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    FOREIGN KEY (tenant, receiver_id) REFERENCES receivers (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, alert_id) REFERENCES alerts (tenant, id) ON DELETE SET NULL (alert_id),
    UNIQUE (tenant, receiver_id, dedupe_key)   -- also backs the receiver cascade
);
-- The dispatcher's queue: only undelivered rows, in due order, claimed with
--   SELECT ... WHERE delivered_at IS NULL AND next_attempt_at <= now()
--   ORDER BY next_attempt_at LIMIT $n FOR UPDATE SKIP LOCKED
-- Partial, so delivered history never slows the claim. Cross-tenant (one dispatcher for all
-- tenants), so it does not lead with tenant.
CREATE INDEX notification_outbox_due_idx
    ON notification_outbox (next_attempt_at)
    WHERE delivered_at IS NULL;
-- Backs ON DELETE SET NULL from alerts, and "notifications of this alert" on the alert page.
CREATE INDEX notification_outbox_alert_idx
    ON notification_outbox (tenant, alert_id)
    WHERE alert_id IS NOT NULL;
