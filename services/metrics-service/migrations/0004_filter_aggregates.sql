-- maestro:phase expand
-- metrics 0004: materialised aggregates per SLO series filter, so an SLO status over many series
-- reads O(windows) rows (one aggregate series) instead of O(series x days).
--
-- A filter aggregate is the sum, per minute, hour and day, of every series of its tenant that
-- the filter matches ('' = any kind / workflow or route / step). It covers the minutes
-- [covered_from, rollup_progress 'minute_to_filter'.completed_upto): a status reads the covered
-- part of each window from the filter_* tables and only the rest (the last few minutes, and
-- whatever the backfill has not reached yet) from the series_* tables.
--
-- Who keeps it exact (see Sources/MaestroMetrics/Store/AggregateStore+Filters.swift):
--   * the filter materialiser (the rollup worker) advances the mark, summing the matching
--     series' minutes into filter_minute, creates aggregates for new SLO filters, backfills them
--     one day at a time (each level copied from the same level of the series) and drops the
--     aggregates no SLO uses; it holds 'minute_to_filter' FOR UPDATE;
--   * ingest holds 'minute_to_filter' FOR SHARE, like the other two marks: a minute it records
--     below the mark is added to every covering aggregate in the same transaction;
--   * the minute -> hour -> day rollups and retention treat the filter_* tables exactly like the
--     series_* tables, so every level of an aggregate is the sum of its minutes.
--
-- Zero-downtime: four new, empty tables (indexes and foreign keys created with them) and one
-- new rollup_progress row; nothing existing is altered.

CREATE TABLE filter_aggregates (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant             text NOT NULL CHECK (tenant <> ''),
    kind               text NOT NULL CHECK (kind IN ('', 'run', 'step', 'request')),
    workflow_or_route  text NOT NULL,
    step_id            text NOT NULL,
    covered_from       timestamptz NOT NULL CHECK (extract(epoch FROM covered_from) % 60 = 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT filter_aggregates_filter_key UNIQUE (tenant, kind, workflow_or_route, step_id),
    UNIQUE (tenant, id)   -- target of the (tenant, aggregate_id) foreign keys
);

COMMENT ON TABLE filter_aggregates IS
    'One materialised aggregate per SLO series filter; covers minutes from covered_from to rollup_progress ''minute_to_filter''.';

-- Same columns, constraints and histogram layout as series_minute/hour/day (see 0001-0003).
CREATE TABLE filter_minute (
    tenant           text NOT NULL,
    aggregate_id     bigint NOT NULL,
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
    timed_out        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, aggregate_id, bucket_start),
    FOREIGN KEY (tenant, aggregate_id) REFERENCES filter_aggregates (tenant, id) ON DELETE CASCADE,
    CHECK (success + failed <= total),
    CHECK (sla_met + sla_missed <= total)
);
CREATE INDEX filter_minute_bucket_brin ON filter_minute USING brin (bucket_start);

CREATE TABLE filter_hour (
    tenant           text NOT NULL,
    aggregate_id     bigint NOT NULL,
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
    timed_out        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, aggregate_id, bucket_start),
    FOREIGN KEY (tenant, aggregate_id) REFERENCES filter_aggregates (tenant, id) ON DELETE CASCADE,
    CHECK (success + failed <= total),
    CHECK (sla_met + sla_missed <= total)
);
CREATE INDEX filter_hour_bucket_brin ON filter_hour USING brin (bucket_start);

CREATE TABLE filter_day (
    tenant           text NOT NULL,
    aggregate_id     bigint NOT NULL,
    bucket_start     timestamptz NOT NULL CHECK (extract(epoch FROM bucket_start) % 86400 = 0),
    total            bigint NOT NULL DEFAULT 0 CHECK (total >= 0),
    success          bigint NOT NULL DEFAULT 0 CHECK (success >= 0),
    failed           bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    sla_met          bigint NOT NULL DEFAULT 0 CHECK (sla_met >= 0),
    sla_missed       bigint NOT NULL DEFAULT 0 CHECK (sla_missed >= 0),
    latency_buckets  bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[21])
                     CHECK (array_ndims(latency_buckets) = 1 AND cardinality(latency_buckets) = 21
                            AND array_lower(latency_buckets, 1) = 1),
    sum_duration_ms  bigint NOT NULL DEFAULT 0 CHECK (sum_duration_ms >= 0),
    timed_out        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, aggregate_id, bucket_start),
    FOREIGN KEY (tenant, aggregate_id) REFERENCES filter_aggregates (tenant, id) ON DELETE CASCADE,
    CHECK (success + failed <= total),
    CHECK (sla_met + sla_missed <= total)
);
CREATE INDEX filter_day_bucket_brin ON filter_day USING brin (bucket_start);

-- Every minute before 'minute_to_filter'.completed_upto (and at or after an aggregate's
-- covered_from) is in that aggregate. Epoch 0 = nothing materialised yet.
INSERT INTO rollup_progress (name, completed_upto) VALUES ('minute_to_filter', to_timestamp(0))
ON CONFLICT (name) DO NOTHING;

-- maestro:down
DELETE FROM rollup_progress WHERE name = 'minute_to_filter';
DROP TABLE filter_day;
DROP TABLE filter_hour;
DROP TABLE filter_minute;
DROP TABLE filter_aggregates;
