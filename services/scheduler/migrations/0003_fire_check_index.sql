-- maestro:phase expand
-- scheduler 0003: the index the fire follower reads: live fires ('starting', 'running') by the
-- time they are next looked at. Partial, so it holds only live fires however long the history
-- grows. Built CONCURRENTLY (the runner applies this file statement by statement, outside a
-- transaction) so writers are never blocked.
CREATE INDEX CONCURRENTLY IF NOT EXISTS schedule_fires_check_idx
    ON schedule_fires (next_check_at)
    WHERE status IN ('starting', 'running');

-- maestro:down
DROP INDEX CONCURRENTLY IF EXISTS schedule_fires_check_idx;
