-- E-mail and invitations (issue 12, items 1, 2 and 4).
--
-- `outbox`: e-mail to deliver, written in the same transaction as the write that causes it.
-- A row names what to send (`kind` + `ref`, rendered when it is sent, so that no link's
-- secret is ever stored); the sender claims a row (`claimed_until_ms`), delivers it and marks
-- it `sent`, or records the error and the time of the next attempt. Times are milliseconds
-- since the Unix epoch, compared as integers on both backends.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    seq BIGINT NOT NULL,
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    claimed_until_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_ms);

-- Invitations, reworked: one invitation (one link, one e-mail) may name several tenants
-- (`invitation_tenants`). Only the SHA-256 of the link's secret is stored (`token_hash`,
-- replaced when the invitation is resent: `link_seq` counts the links). `origin` is `invite`
-- (POST /invitations: accepting creates what is missing) or `user` (a user created by a
-- write: accepting activates it). `status` is pending, accepted or revoked; a pending
-- invitation past `expires_ms` is expired.
ALTER TABLE invitations RENAME TO invitations_0001;
DROP INDEX IF EXISTS invitations_tenant;

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    origin TEXT NOT NULL,
    language TEXT NOT NULL,
    message TEXT,
    status TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    link_seq BIGINT NOT NULL,
    invited_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    accepted_at TEXT,
    revoked_at TEXT
);
CREATE INDEX invitations_email ON invitations (email);

-- The tenants an invitation names, with the role and workspaces given on acceptance.
-- `status` copies the invitation's, so that one pending invitation per e-mail and tenant is
-- a unique index (two simultaneous invitations produce one).
CREATE TABLE invitation_tenants (
    invitation_id TEXT NOT NULL,
    email TEXT NOT NULL,
    tenant TEXT NOT NULL,
    role TEXT NOT NULL,
    workspaces TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (invitation_id, tenant)
);
CREATE INDEX invitation_tenants_tenant ON invitation_tenants (tenant);
CREATE UNIQUE INDEX invitation_tenants_pending ON invitation_tenants (email, tenant) WHERE status = 'pending';

-- Old invitations had no link (an administrator accepted them): they are kept, expired.
INSERT INTO invitations (id, email, origin, language, message, status, token_hash, link_seq, invited_by, created_at, expires_ms, accepted_at, revoked_at)
    SELECT id, email, 'invite', 'en', message, status, NULL, 0, invited_by, created_at, 0, accepted_at, NULL FROM invitations_0001;
INSERT INTO invitation_tenants (invitation_id, email, tenant, role, workspaces, status)
    SELECT id, email, tenant, role, workspaces, CASE WHEN status = 'pending' THEN 'expired' ELSE status END FROM invitations_0001;
DROP TABLE invitations_0001;

-- The platform's side of a user, beside the declared spec: never diffed, never exported.
-- A user is pending until `activated_at` (an accepted invitation, which sets the argon2id
-- `password_hash`); `last_active_ms` is updated at most once a minute.
CREATE TABLE user_accounts (
    email TEXT PRIMARY KEY,
    password_hash TEXT,
    created_at TEXT NOT NULL,
    invited_at TEXT,
    activated_at TEXT,
    last_active_ms BIGINT
);
-- Users that existed before invitations were delivered count as active.
INSERT INTO user_accounts (email, password_hash, created_at, invited_at, activated_at, last_active_ms)
    SELECT rkey, NULL, created_at, NULL, created_at, NULL FROM resources WHERE kind = 'user';
