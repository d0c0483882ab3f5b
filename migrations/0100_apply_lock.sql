-- The platform's apply lock (issue 10): one lease at a time, shared by every `serve`
-- process on the database. `expires_ms` is milliseconds since the Unix epoch (server clock),
-- compared as an integer on both backends.
CREATE TABLE apply_lock (
    id INTEGER PRIMARY KEY,
    lock_id TEXT NOT NULL,
    holder TEXT NOT NULL,
    token_id TEXT NOT NULL,
    change_set TEXT,
    acquired_at TEXT NOT NULL,
    renewed_at TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    ttl_seconds BIGINT NOT NULL
);
