//! Runs a plan through the client; never re-diffs.
