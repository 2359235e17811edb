-- The W3C traceparent of the work that enqueued a job or published an event: the step that
-- runs the job, and each delivery of the event, continue that trace.
ALTER TABLE jobs ADD COLUMN trace TEXT;
ALTER TABLE events ADD COLUMN trace TEXT;
