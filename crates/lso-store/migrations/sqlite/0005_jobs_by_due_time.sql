-- A job is due when it is to run and no lease holds it: claims and the time of the next job
-- walk this index in due order instead of reading every job a backlog holds (leased ones
-- included). Kept in step with migrations/postgres/0005_jobs_by_due_time.sql.
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (max(run_at, lease_until), id);
