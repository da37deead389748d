-- maestro:phase expand
-- metrics 0002: RecordEvents idempotency (batch ids remembered for 24 h) and a timed-out counter
-- in the aggregates, so per-workflow stats tell timeouts from other failures.
--
-- Zero-downtime: ingest_batches is new (its index is created with it). The two ALTERs add a
-- column with a constant default, which PostgreSQL 11+ records in the catalog without rewriting
-- the table; lock_timeout bounds the brief ACCESS EXCLUSIVE lock so a busy table makes the
-- migration fail fast (and be retried) instead of queueing every writer behind it.

SET LOCAL lock_timeout = '5s';

-- One row per accepted batch: (caller tenant, caller subject, batch id). The retention job
-- deletes rows older than 24 h.
CREATE TABLE ingest_batches (
    caller_tenant   text NOT NULL,
    caller_subject  text NOT NULL,
    batch_id        text NOT NULL CHECK (batch_id <> '' AND length(batch_id) <= 128),
    events          integer NOT NULL CHECK (events >= 0),
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller_tenant, caller_subject, batch_id)
);
CREATE INDEX ingest_batches_received_brin ON ingest_batches USING brin (received_at);

ALTER TABLE series_minute ADD COLUMN timed_out bigint NOT NULL DEFAULT 0;
ALTER TABLE series_hour ADD COLUMN timed_out bigint NOT NULL DEFAULT 0;

-- maestro:down
DROP TABLE ingest_batches;
ALTER TABLE series_minute DROP COLUMN timed_out;
ALTER TABLE series_hour DROP COLUMN timed_out;
