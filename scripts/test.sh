#!/usr/bin/env bash
# The README's second command: the whole suite, on a real Docker engine and real nested engines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-env.sh
# The server tests run against the embedded store and against PostgreSQL.
NESTOR_TEST_DATABASE_URL=$(bash scripts/ensure-postgres.sh)
export NESTOR_TEST_DATABASE_URL
export PATH="$PWD/node_modules/.bin:$PATH"

echo "== typecheck"
tsc --noEmit -p .

status=0
echo "== tests"
node --test --test-concurrency=1 --test-timeout=300000 'src/**/*.test.ts' 'test/**/*.test.ts' || status=$?

echo "== nothing left behind"
left=$(docker ps -a --filter label=dev.nestor.managed --format '{{.Names}} {{.Label "dev.nestor.persistent"}}' | grep -v ' true$' || true)
if [ -n "$left" ]; then
  echo "FAIL: the suite left these Nestor containers behind:" >&2
  echo "$left" >&2
  status=1
else
  echo "none"
fi
# The shared registry is meant to outlive jobs; the suite removes it too, so it leaves nothing.
bin/nestor engine cleanup --all >/dev/null
exit "$status"
