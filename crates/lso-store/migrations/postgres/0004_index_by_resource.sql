-- Kept in step with migrations/sqlite/0004_index_by_resource.sql: index entries keyed by
-- their resource, equal entries of one resource told apart by their occurrence `n`, so a
-- change writes only the entries that differ.
CREATE TABLE resource_index_keyed (
    seq   BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    name  TEXT   NOT NULL,
    value TEXT   NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (seq, name, value, n)
);
INSERT INTO resource_index_keyed (seq, name, value, n)
    SELECT seq, name, value, row_number() OVER (PARTITION BY seq, name, value) - 1 FROM resource_index;
DROP TABLE resource_index;
ALTER TABLE resource_index_keyed RENAME TO resource_index;
ALTER INDEX resource_index_keyed_pkey RENAME TO resource_index_pkey;
CREATE INDEX resource_index_by_value ON resource_index (name, value, seq);
