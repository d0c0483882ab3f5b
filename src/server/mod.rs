//! The platform: HTTP routes, authorization, storage (SQLite, PostgreSQL), migrations.
