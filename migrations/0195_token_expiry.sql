-- Issue 11: tokens with an optional expiry and revocation (`tenantctl token list|revoke`).
-- Both are RFC 3339 UTC times like every other time column; NULL: never expires, not revoked.
-- A revoked token keeps its row: the audit log names it.
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
