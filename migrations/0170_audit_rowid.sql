-- SQLite only (issue 15): the audit table keyed by its rowid. `BIGINT PRIMARY KEY` is not
-- SQLite's rowid alias (only `INTEGER PRIMARY KEY` is), so every audit row was written into
-- three b-trees (the table, the index of its key, `audit_tenant`); now two. The same
-- columns in the same order, the same rows. PostgreSQL runs `0170_audit_rowid.postgres.sql`
-- instead (its BIGINT key is already the table's own, and its INTEGER is 32-bit).

CREATE TABLE audit_by_rowid (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    revision BIGINT NOT NULL,
    token_id TEXT NOT NULL,
    op TEXT NOT NULL,
    kind TEXT NOT NULL,
    rkey TEXT NOT NULL,
    tenant TEXT,
    before_json TEXT,
    after_json TEXT,
    change_set TEXT,
    commit_sha TEXT
);
INSERT INTO audit_by_rowid (id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha)
    SELECT id, at, revision, token_id, op, kind, rkey, tenant, before_json, after_json, change_set, commit_sha
    FROM audit ORDER BY id;
DROP TABLE audit;
ALTER TABLE audit_by_rowid RENAME TO audit;
CREATE INDEX audit_tenant ON audit (tenant, id);
