-- Kept in step with migrations/sqlite/0001_initial.sql: same tables, same columns.

-- Resources are JSON documents with a few indexed attributes for filtering.
CREATE TABLE resources (
    seq        BIGSERIAL PRIMARY KEY,
    kind       TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    tenant     TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    doc        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (kind, id)
);
CREATE INDEX resources_by_tenant ON resources (kind, tenant, seq);

CREATE TABLE resource_index (
    seq   BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    name  TEXT   NOT NULL,
    value TEXT   NOT NULL
);
CREATE INDEX resource_index_by_value ON resource_index (name, value, seq);
CREATE INDEX resource_index_by_resource ON resource_index (seq);

-- Durable background work; a job is claimed with a lease and deleted when done.
CREATE TABLE jobs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    payload     TEXT   NOT NULL,
    run_at      BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    attempts    BIGINT NOT NULL DEFAULT 0,
    generation  BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    UNIQUE (kind, key)
);
CREATE INDEX jobs_due ON jobs (run_at);

-- Notification subscriptions (POST /hub).
CREATE TABLE hubs (
    id          TEXT   PRIMARY KEY,
    api         TEXT   NOT NULL,
    tenant      TEXT   NOT NULL,
    callback    TEXT   NOT NULL,
    query       TEXT,
    event_types TEXT   NOT NULL,
    extra       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX hubs_by_tenant ON hubs (api, tenant);

-- The outbox: events written in the same transaction as the state change they announce,
-- and one delivery per matching subscription.
CREATE TABLE events (
    id            TEXT   PRIMARY KEY,
    api           TEXT   NOT NULL,
    tenant        TEXT   NOT NULL,
    event_type    TEXT   NOT NULL,
    listener_path TEXT   NOT NULL,
    body          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    event_id        TEXT   NOT NULL REFERENCES events (id),
    hub_id          TEXT   NOT NULL,
    ordering_key    TEXT   NOT NULL,
    state           TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_status     BIGINT,
    last_error      TEXT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_in_order ON deliveries (ordering_key, id) WHERE state = 'pending';
