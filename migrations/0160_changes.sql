-- The change log (issue 15): which resources each committed write changed, by revision, so
-- that another process over the same database catches up by the change. `changes_since` is
-- the oldest revision from which the log is complete (a process further behind reloads).

CREATE TABLE changes (
    revision BIGINT NOT NULL,
    kind TEXT NOT NULL,
    rkey TEXT NOT NULL,
    PRIMARY KEY (revision, kind, rkey)
);

ALTER TABLE meta ADD COLUMN changes_since BIGINT NOT NULL DEFAULT 0;
UPDATE meta SET changes_since = revision;
