-- Registers and records (issue 14, document 001): the platform data users keep in a
-- workspace. Not resources: never in `GET /state`, never planned. A register is keyed by
-- its tenant, workspace and key; a record by the id the platform gives it (`rec_…`,
-- ordered by creation). `fields` is the record's JSON object as text. `version` is the
-- `If-Match` precondition of an update. Times are RFC 3339 text like every other table.
CREATE TABLE registries (
    tenant TEXT NOT NULL,
    workspace TEXT NOT NULL,
    rkey TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, workspace, rkey)
);

CREATE TABLE records (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    workspace TEXT NOT NULL,
    registry TEXT NOT NULL,
    title TEXT NOT NULL,
    fields TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX records_registry ON records (tenant, workspace, registry, id);

-- Each tenant's usage of the two limits that count data: a create adds one with a
-- conditional UPDATE (`… WHERE registries < limit`) in the transaction that inserts the
-- row, so concurrent creates serialise on this row and never pass the limit; a delete
-- takes off what it removed.
CREATE TABLE tenant_usage (
    tenant TEXT PRIMARY KEY,
    registries BIGINT NOT NULL,
    records BIGINT NOT NULL
);
