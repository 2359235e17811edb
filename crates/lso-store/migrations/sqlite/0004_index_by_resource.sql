-- Index entries keyed by their resource, so a change reads a resource's entries and writes
-- only those that differ (an order's state moves, its dates stay). Equal entries of one
-- resource (two items in one state) are told apart by their occurrence `n`. Kept in step with
-- migrations/postgres/0004_index_by_resource.sql.
CREATE TABLE resource_index_keyed (
    seq   INTEGER NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    name  TEXT    NOT NULL,
    value TEXT    NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (seq, name, value, n)
) WITHOUT ROWID;
INSERT INTO resource_index_keyed (seq, name, value, n)
    SELECT seq, name, value, row_number() OVER (PARTITION BY seq, name, value) - 1 FROM resource_index;
DROP TABLE resource_index;
ALTER TABLE resource_index_keyed RENAME TO resource_index;
CREATE INDEX resource_index_by_value ON resource_index (name, value, seq);
