-- Fields of a resource's spec whose value came from `${env:…}` (issue 10): kept out of the
-- audit log, and written back as their placeholder by `export`.
CREATE TABLE sensitive_fields (
    kind TEXT NOT NULL,
    rkey TEXT NOT NULL,
    pointer TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (kind, rkey, pointer)
);
