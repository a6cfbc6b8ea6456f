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

# What the engine holds before the tests: afterwards, anything new is something a test left.
inventory() {
  docker ps -aq --no-trunc | sed 's/^/container /'
  docker images --format 'image {{.Repository}}:{{.Tag}}' | grep -v '<none>:<none>$' || true
  echo "dangling images $(docker images -q --filter dangling=true | wc -l)"
  docker volume ls -q | sed 's/^/volume /'
  docker network ls --format 'network {{.Name}}'
}
before=$(inventory | sort)

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
# Images, volumes and networks a test made and did not remove (the registry's own go above).
new=$(comm -13 <(echo "$before") <(inventory | sort) | grep -v '^dangling images' || true)
dangling_before=$(echo "$before" | sed -n 's/^dangling images //p')
dangling_after=$(docker images -q --filter dangling=true | wc -l)
if [ "$dangling_after" -gt "${dangling_before:-0}" ]; then new="${new}${new:+$'\n'}$((dangling_after - dangling_before)) more dangling image(s)"; fi
if [ -n "$new" ]; then
  echo "FAIL: the suite left these behind on the engine:" >&2
  echo "$new" >&2
  status=1
else
  echo "no image, volume or network either"
fi
exit "$status"
