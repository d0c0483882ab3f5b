#!/usr/bin/env bash
# Runs schemathesis (pip install schemathesis) against a fresh `tenantctl serve` with its
# bootstrap system token, over a new SQLite file, or over DATABASE (a new, empty database).
# Extra arguments go to `schemathesis run`. Env: SCHEMATHESIS (the command), TENANTCTL_BIN,
# PORT, MAX_TIME (seconds, default 240).
set -euo pipefail
cd "$(dirname "$0")/.."
ST="${SCHEMATHESIS:-schemathesis}"
BIN="${TENANTCTL_BIN:-target/debug/tenantctl}"
PORT="${PORT:-18080}"
DIR="$(mktemp -d)"
DB="${DATABASE:-sqlite://$DIR/platform.db}"
"$BIN" serve --listen "127.0.0.1:$PORT" --database "$DB" >"$DIR/out" 2>"$DIR/log" &
PID=$!
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do grep -q '^bootstrap token: ' "$DIR/out" && break; sleep 0.1; done
TOKEN="$(sed -n 's/^bootstrap token: //p' "$DIR/out")"
[ -n "$TOKEN" ] || { echo "no bootstrap token (is the database new?)" >&2; cat "$DIR/log" >&2; exit 1; }
"$ST" run "http://127.0.0.1:$PORT/api/v1/openapi.json" -H "Authorization: Bearer $TOKEN" \
  --checks all --max-time "${MAX_TIME:-240}" --workers 2 "$@"
status=$?
if grep -q ' ERROR ' "$DIR/log"; then echo "server logged errors:" >&2; grep ' ERROR ' "$DIR/log" >&2; fi
exit $status
