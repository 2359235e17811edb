-- Kept in step with migrations/sqlite/0005_jobs_by_due_time.sql: jobs in the order they are
-- due (to run, and no lease holding them), for claims and the time of the next job.
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (GREATEST(run_at, lease_until), id);
