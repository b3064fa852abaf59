#!/bin/sh
# The backend image's migration entrypoint (seed 000 R18), /app/migrate.sh.
# A deploy runs it as a one-off ECS task (aws:ecs/TaskRun, the stack's
# `migrate`) before any task definition that runs new code registers:
#   1. one psql session takes a PostgreSQL advisory lock (R18.5) and holds
#      it to the end: a parallel deploy's migrations wait, never interleave;
#   2. each migrations/*.sql not in schema_migrations runs, in name order,
#      in its own transaction with its record (a `*.notx.sql` runs outside
#      one, for CREATE INDEX CONCURRENTLY; its record follows it);
#   3. still under the lock, each migrations/clickhouse/*.sql not in
#      ClickHouse's schema_migrations runs (one statement per file, as
#      ClickHouse's HTTP interface takes them);
#   4. each version is logged with its duration (R18.6); the first failure
#      exits non-zero (R18.4), which fails the apply with this log's tail
#      before any service moves.
# Both databases are waited for first (a first deploy starts ClickHouse's
# instance moments before), up to MIGRATE_WAIT seconds (default 600).
# Reads DATABASE_URL, PGUSER, PGPASSWORD, CLICKHOUSE_URL, CLICKHOUSE_USER,
# CLICKHOUSE_PASSWORD (stacks/morket/services.rs), and APP_DIR (default
# /app, holding migrations/); `migrate.sh clickhouse` is step 3 alone,
# which step 1's session runs.
set -eu
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "${APP_DIR:-/app}"
LOCK_KEY=727274 # the advisory lock's key: "morket" migrations

# One line of the psql script, as written (echo may expand backslashes).
line() { printf '%s\n' "$*"; }

ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# A query over ClickHouse's HTTP interface; its error text reaches the log.
clickhouse() {
  curl -sS --fail-with-body -H "X-ClickHouse-User: ${CLICKHOUSE_USER}" \
    -H "X-ClickHouse-Key: ${CLICKHOUSE_PASSWORD}" "$@" "${CLICKHOUSE_URL%/}/"
}

# Runs "$@" until it succeeds, for up to MIGRATE_WAIT seconds.
wait_for() {
  what=$1
  shift
  deadline=$(($(date +%s) + ${MIGRATE_WAIT:-600}))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "$what did not answer within ${MIGRATE_WAIT:-600} s" >&2
      return 1
    fi
    sleep 2
  done
}

if [ "${1:-}" = clickhouse ]; then
  wait_for ClickHouse curl -sSf "${CLICKHOUSE_URL%/}/ping"
  clickhouse --data-binary "CREATE TABLE IF NOT EXISTS schema_migrations (version String, applied_at DateTime DEFAULT now(), duration_ms UInt32) ENGINE = MergeTree ORDER BY version" >/dev/null
  applied=$(clickhouse --data-binary "SELECT version FROM schema_migrations FORMAT TabSeparated")
  for f in migrations/clickhouse/*.sql; do
    [ -e "$f" ] || continue
    v=$(basename "$f" .sql)
    if printf '%s\n' "$applied" | grep -qxF "$v"; then
      continue
    fi
    t0=$(ms)
    if ! answer=$(clickhouse --data-binary "@$f"); then
      echo "migration clickhouse $v FAILED after $(($(ms) - t0)) ms: $answer" >&2
      exit 1
    fi
    d=$(($(ms) - t0))
    clickhouse --data-binary "INSERT INTO schema_migrations (version, duration_ms) VALUES ('$v', $d)" >/dev/null
    echo "migration clickhouse $v applied in $d ms"
  done
  exit 0
fi

for f in migrations/*.sql; do
  case "$f" in
    *"'"* | *\\*) echo "$f: a migration's file name holds a quote or a backslash" >&2; exit 1 ;;
  esac
done
started=$(ms)
wait_for PostgreSQL psql "$DATABASE_URL" -X -q -c "SELECT 1"
script=$(mktemp)
{
  line '\set ON_ERROR_STOP on'
  line '\pset tuples_only on'
  line '\pset format unaligned'
  line '\echo taking the migration lock'
  line "SELECT pg_advisory_lock($LOCK_KEY);"
  line '\echo migration lock held'
  line 'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), duration_ms integer NOT NULL);'
  for f in migrations/*.sql; do
    [ -e "$f" ] || continue
    v=$(basename "$f" .sql)
    line "SELECT NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = '$v') AS pending \\gset"
    line '\if :pending'
    line 'SELECT clock_timestamp() AS t0 \gset'
    case "$f" in
      *.notx.sql) tx= ;;
      *) tx=yes ;;
    esac
    [ -z "$tx" ] || line 'BEGIN;'
    line "\\i '$f'"
    line "INSERT INTO schema_migrations (version, duration_ms) VALUES ('$v', (extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000)::int);"
    [ -z "$tx" ] || line 'COMMIT;'
    line "SELECT format('migration postgres %s applied in %s ms', version, duration_ms) FROM schema_migrations WHERE version = '$v';"
    line '\endif'
  done
  # ClickHouse under the same lock: its lines to the log, its outcome
  # to a psql variable.
  line "\\set clickhouse_ok \`'$self' clickhouse >&2 && echo true || echo false\`"
  line '\if :clickhouse_ok'
  line '\else'
  line "DO \$\$ BEGIN RAISE EXCEPTION 'ClickHouse migrations failed'; END \$\$;"
  line '\endif'
} >"$script"
# The session's end releases the lock, whatever happened.
psql "$DATABASE_URL" -X -q -f "$script"
echo "migrations done in $(($(ms) - started)) ms"
