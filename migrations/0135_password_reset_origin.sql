-- Password resets (issue 12, item 5): where a link came from (`origin`: `admin`, the link
-- handed to an administrator; `request`, asked for by the user by e-mail; `incident`, "change
-- all passwords"), and when it was made in milliseconds (`created_ms`, compared as integers
-- to limit how many a user may ask for). A link sent by e-mail gets its secret when the
-- e-mail is sent; until then its `hash` is `unsent:ID`, which no secret hashes to.
ALTER TABLE password_resets ADD COLUMN origin TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE password_resets ADD COLUMN created_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX password_resets_email ON password_resets (email, created_ms);

-- How many reset links were asked for, per key (`email:…` an address asked about,
-- `client:…` a client address asking), in the current window (`window_ms`: when it began):
-- one upserted row, so concurrent requests count one after another.
CREATE TABLE reset_requests (
    rkey TEXT PRIMARY KEY,
    window_ms BIGINT NOT NULL,
    n BIGINT NOT NULL
);
