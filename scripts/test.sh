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

# Each test process has a PostgreSQL schema of its own (test/server/harness.ts); what a killed
# one left is dropped here, before and after.
drop_test_schemas() {
  psql "$NESTOR_TEST_DATABASE_URL" -qtAX -v ON_ERROR_STOP=1 -c "DO \$\$ DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'nestor\_test\_%' LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END \$\$;" >/dev/null
}
drop_test_schemas

# The files run side by side in three groups, so the suite fits in its time:
# - alone, at the end: files that act on the whole host engine (prune, `engine cleanup`, the
#   reclaim of what a killed process left, which any other Nestor process could do first);
# - one after another, beside the rest: the functions and GitOps files, whose applications'
#   engines and images are the host's (one engine per application name, shared by servers);
# - the rest, NESTOR_TEST_CONCURRENCY (default 2) at a time: each counts only what its own
#   processes made (test/helpers.ts), in its own schema.
shopt -s globstar nullglob
alone=(test/prune.test.ts test/cli.test.ts test/signals.test.ts test/server/e2e.test.ts test/gitops/crash.test.ts)
functions=(test/functions.test.ts test/gitops/*.test.ts test/security/authz.test.ts test/security/function-headers.test.ts test/security/function-isolation.test.ts test/security/secrets.test.ts test/security/webhooks.test.ts)
rest=()
for f in src/**/*.test.ts test/**/*.test.ts; do
  case " ${alone[*]} ${functions[*]} " in *" $f "*) ;; *) rest+=("$f") ;; esac
done
functions_only=()
for f in "${functions[@]}"; do case " ${alone[*]} " in *" $f "*) ;; *) functions_only+=("$f") ;; esac; done

run_tests() { # GROUP CONCURRENCY FILE...
  local group=$1 concurrency=$2 report=()
  shift 2
  # NESTOR_TEST_REPORT_DIR: a JUnit file per group beside the terminal's output, with each test's time.
  if [ -n "${NESTOR_TEST_REPORT_DIR:-}" ]; then
    mkdir -p "$NESTOR_TEST_REPORT_DIR"
    report=(--test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit --test-reporter-destination="$NESTOR_TEST_REPORT_DIR/$group.xml")
  fi
  node --test "${report[@]}" --test-concurrency="$concurrency" --test-timeout=300000 "$@"
}

status=0
started=$(date +%s)
echo "== tests: ${#rest[@]} files ${NESTOR_TEST_CONCURRENCY:-2} at a time, beside ${#functions_only[@]} functions and GitOps files one at a time (their output follows)"
functions_log=$(mktemp)
run_tests functions 1 "${functions_only[@]}" >"$functions_log" 2>&1 &
functions_pid=$!
run_tests side-by-side "${NESTOR_TEST_CONCURRENCY:-2}" "${rest[@]}" || status=$?
functions_status=0
wait "$functions_pid" || functions_status=$?
echo "== the functions and GitOps files"
cat "$functions_log"
rm -f "$functions_log"
[ "$functions_status" -eq 0 ] || status=$functions_status
echo "== tests that act on the whole host engine, alone"
run_tests alone 1 "${alone[@]}" || status=$?
echo "== tests took $(( $(date +%s) - started )) s"
drop_test_schemas || true

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
