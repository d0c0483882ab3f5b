-- One schema for SQLite and PostgreSQL: portable types only (TEXT, BIGINT, BOOLEAN),
-- timestamps as RFC 3339 text, JSON bodies as text, ids assigned by the application.

CREATE TABLE meta (
    id INTEGER PRIMARY KEY,
    revision BIGINT NOT NULL,
    audit_seq BIGINT NOT NULL
);
INSERT INTO meta (id, revision, audit_seq) VALUES (1, 0, 0);

CREATE TABLE resources (
    kind TEXT NOT NULL,
    rkey TEXT NOT NULL,
    tenant TEXT,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    managed BOOLEAN NOT NULL,
    protected BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, rkey)
);
CREATE INDEX resources_tenant ON resources (tenant);

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    role TEXT NOT NULL,
    user_email TEXT,
    description TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE audit (
    id BIGINT PRIMARY KEY,
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
CREATE INDEX audit_tenant ON audit (tenant, id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    workspaces TEXT NOT NULL,
    message TEXT,
    status TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    accepted_at TEXT
);
CREATE INDEX invitations_tenant ON invitations (tenant);

CREATE TABLE password_resets (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
