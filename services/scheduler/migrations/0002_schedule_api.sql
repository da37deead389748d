-- maestro:phase expand
-- scheduler 0002: what the v1 API and the firing loop keep beside 0001's columns.
--
-- schedules.name holds the API's schedule id (unique per tenant); display_name is the API's
-- human-readable name. next_nominal_at is the nominal time (before jitter) of the fire that
-- next_fire_at (nominal + jitter, the due time the index orders by) stands for. The counters and
-- paused_by_failures back ScheduleState. On schedule_fires, next_check_at says when a live fire
-- is next looked at (a 'starting' fire is re-driven by any replica after a crash; a 'running'
-- one has its run's status polled), cancel_requested marks runs a CANCEL_OTHER/TERMINATE_OTHER
-- fire asked to cancel (the cancel is re-sent until the run ends), run_status is the workflow
-- API's final status name.
--
-- Zero-downtime: every column is added with a constant default (catalog-only in PostgreSQL
-- 11+); lock_timeout bounds the brief ACCESS EXCLUSIVE lock.

SET LOCAL lock_timeout = '5s';

ALTER TABLE schedules ADD COLUMN display_name text NOT NULL DEFAULT '';
ALTER TABLE schedules ADD COLUMN labels jsonb NOT NULL DEFAULT '{}';
ALTER TABLE schedules ADD COLUMN next_nominal_at timestamptz;
ALTER TABLE schedules ADD COLUMN paused_by_failures boolean NOT NULL DEFAULT false;
ALTER TABLE schedules ADD COLUMN total_fires bigint NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN missed_fires bigint NOT NULL DEFAULT 0;

ALTER TABLE schedule_fires ADD COLUMN next_check_at timestamptz;
ALTER TABLE schedule_fires ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
ALTER TABLE schedule_fires ADD COLUMN run_status text NOT NULL DEFAULT '';

-- maestro:down
ALTER TABLE schedules DROP COLUMN display_name;
ALTER TABLE schedules DROP COLUMN labels;
ALTER TABLE schedules DROP COLUMN next_nominal_at;
ALTER TABLE schedules DROP COLUMN paused_by_failures;
ALTER TABLE schedules DROP COLUMN total_fires;
ALTER TABLE schedules DROP COLUMN missed_fires;
ALTER TABLE schedule_fires DROP COLUMN next_check_at;
ALTER TABLE schedule_fires DROP COLUMN cancel_requested;
ALTER TABLE schedule_fires DROP COLUMN run_status;
