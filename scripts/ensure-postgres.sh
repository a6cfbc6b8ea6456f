#!/usr/bin/env bash
# PostgreSQL for the suite's second store: Debian's server, started when it is down, with a
# database and role for the tests. Prints the URL to use. Idempotent.
set -euo pipefail
# Only the URL goes to stdout (callers capture it with $(…)); everything the tools print goes to
# stderr, as pg_ctlcluster prints notes such as "Removed stale pid file." on stdout. The work runs
# in a function whose stdout is redirected rather than with `exec`, because a daemon started here
# inherits every open descriptor: had it inherited the caller's pipe, $(…) would wait for
# PostgreSQL to exit, that is, for ever.
say() { echo "[nestor setup] $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_postgres() {
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    say "installing PostgreSQL …"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
    as_root pg_createcluster "$version" main >/dev/null
  fi
  if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    say "starting PostgreSQL $version …"
    as_root pg_ctlcluster "$version" main start </dev/null
  fi
  psql_admin() { as_root su postgres -c "psql -v ON_ERROR_STOP=1 -qtAX -c \"$1\""; }
  # The suite runs test files side by side, each with servers of its own (10 connections each
  # at most): more than the default 100 connections may be open at once.
  if [ "$(psql_admin "SHOW max_connections")" -lt 300 ]; then
    say "raising PostgreSQL's max_connections to 300 …"
    psql_admin "ALTER SYSTEM SET max_connections = 300" >/dev/null
    as_root pg_ctlcluster "$version" main restart </dev/null
  fi
  psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'nestor'" | grep -q 1 || psql_admin "CREATE ROLE nestor LOGIN PASSWORD 'nestor'"
  psql_admin "SELECT 1 FROM pg_database WHERE datname = 'nestor_test'" | grep -q 1 || psql_admin "CREATE DATABASE nestor_test OWNER nestor"
}
ensure_postgres </dev/null >&2
echo "postgres://nestor:nestor@127.0.0.1:5432/nestor_test"
