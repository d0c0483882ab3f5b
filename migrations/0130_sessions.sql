-- Sign-in and sessions (issue 12, items 3 and 7).
--
-- `sessions`: one row per sign-in. Only the SHA-256 of the session's secret is stored
-- (`hash`, indexed: every request reads its row, so a revoked session answers 401 at once on
-- every process). `tenant` is where the session acts (NULL: the system, for a super_admin).
-- Times are milliseconds since the Unix epoch, compared as integers on both backends: a
-- session works while `now < last_seen_ms + idle` and `now < expires_ms` (the maximum);
-- `last_seen_ms` slides at most once a minute. A revoked or signed-out session keeps its row
-- (`revoked_ms`, `revoked_why`) for the security log.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    tenant TEXT,
    address TEXT,
    created_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    idle_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    revoked_ms BIGINT,
    revoked_why TEXT
);
CREATE INDEX sessions_email ON sessions (email);

-- Failed sign-ins, counted per key (`account:EMAIL` — any e-mail typed, known or not — and
-- `address:IP`). An attempt is counted before its password is checked, in a transaction
-- that holds the row's lock, so parallel attempts cannot slip past the limit; a successful
-- sign-in clears its account's count and gives its address's attempt back. `blocked_until_ms`:
-- attempts before then are refused unchecked (429). `last_ms`: the last attempt, after which
-- a quiet period forgets the count.
CREATE TABLE sign_in_throttle (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    blocked_until_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL
);
