-- PostgreSQL's side of `0170_audit_rowid.sql` (a SQLite table rebuild): nothing to change.
-- PostgreSQL keeps every table in a heap beside its indexes whatever its key's type, and its
-- INTEGER is 32-bit: the audit table keeps its BIGINT key.
SELECT 1;
