-- Each index entry carries the kind and tenant of its resource (which never change), and the
-- value index holds them: a list led by a small index range finds its matches in that index
-- alone instead of looking each one up in `resources` (a million products: one day of start
-- dates is 3,333 such lookups). SQLite, whose lookups are calls into the same file, keeps its
-- entries as they are.
ALTER TABLE resource_index ADD COLUMN kind TEXT, ADD COLUMN tenant TEXT;
UPDATE resource_index i SET kind = r.kind, tenant = r.tenant FROM resources r WHERE r.seq = i.seq;
ALTER TABLE resource_index ALTER COLUMN kind SET NOT NULL, ALTER COLUMN tenant SET NOT NULL;
DROP INDEX resource_index_by_value;
CREATE INDEX resource_index_by_value ON resource_index (name, value, seq) INCLUDE (kind, tenant);
