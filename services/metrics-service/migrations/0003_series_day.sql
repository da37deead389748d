-- maestro:phase expand
-- metrics 0003: daily aggregates (series_day), rolled up from complete hours, so a 30-day SLO
-- status reads ~30 daily rows per series plus the partial days at both ends in hours and
-- minutes, instead of ~720 hourly rows.
--
-- Zero-downtime: series_day is new and empty (its index and foreign key are created with it).
-- The rollup_progress rows are inserted with completed_upto = epoch 0 ("nothing rolled up yet"),
-- so ingest always finds both rows to lock FOR SHARE, also before the first rollup has run: the
-- first rollup then waits for in-flight ingest transactions instead of racing them.

-- Same shape, constraints and histogram layout as series_hour (see 0001); bucket_start is a UTC
-- day boundary (the epoch CHECK is independent of the session TimeZone). Rows come from the
-- 'hour_to_day' rollup: a day is rolled up once every hour of it is in series_hour. A late event
-- for an already rolled-up day is added to its minute, its hour and its day in the ingest
-- transaction (under a FOR SHARE lock on both rollup_progress rows), so every level always equals
-- the sum of its minutes.
CREATE TABLE series_day (
    tenant           text NOT NULL,
    series_id        bigint NOT NULL,
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
    PRIMARY KEY (tenant, series_id, bucket_start),
    FOREIGN KEY (tenant, series_id) REFERENCES series (tenant, id) ON DELETE CASCADE,
    CHECK (success + failed <= total),
    CHECK (sla_met + sla_missed <= total)
);
-- The primary key serves the status range reads per series, the rollup's and late ingest's
-- upserts and the cascade. Retention ("days older than 400 days") and the rollup select by time
-- across all series: rows arrive in time order, so a BRIN index stays a few pages.
CREATE INDEX series_day_bucket_brin ON series_day USING brin (bucket_start);

COMMENT ON TABLE series_day IS
    'Daily (UTC) aggregates per series, rolled up from series_hour; rollup_progress ''hour_to_day'' marks how far.';
COMMENT ON COLUMN series_day.latency_buckets IS
    'Non-cumulative duration histogram, 21 buckets, upper bounds in ms (le): 1,2.5,5,10,25,50,100,250,500,1000,2500,5000,10000,30000,60000,120000,300000,600000,1800000,3600000,+Inf';

-- Every day before 'hour_to_day'.completed_upto is in series_day; it never passes
-- 'minute_to_hour'.completed_upto.
INSERT INTO rollup_progress (name, completed_upto) VALUES
    ('minute_to_hour', to_timestamp(0)),
    ('hour_to_day', to_timestamp(0))
ON CONFLICT (name) DO NOTHING;

-- maestro:down
DELETE FROM rollup_progress WHERE name = 'hour_to_day';
DROP TABLE series_day;
