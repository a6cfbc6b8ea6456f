#!/usr/bin/env bash
# Starts, tests and removes a Docker-in-Docker environment: a privileged container running its
# own Docker daemon on a network of its own, as teams script it for integration tests.
set -euo pipefail

NAME="${DIND_CONTAINER_NAME:-rustci-dind}"
NETWORK="${DIND_NETWORK:-rustci-network}"
# docker:dind where Docker Hub answers; Nestor's set-up builds the same daemon from Debian's packages.
IMAGE="${DIND_IMAGE:-nestor/dind:bookworm-3}"
# What the nested daemon runs: loaded from this engine, as an air-gapped site does.
TEST_IMAGE="${DIND_TEST_IMAGE:-busybox:latest}"

start() {
  docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null
  docker run -d --privileged --name "$NAME" --network "$NETWORK" "$IMAGE" >/dev/null
  for i in $(seq 1 60); do
    if docker exec "$NAME" docker info >/dev/null 2>&1; then
      echo "DIND daemon ready after ${i} tries"
      return 0
    fi
    sleep 0.5
  done
  echo "the DIND daemon did not answer; its log:" >&2
  docker logs --tail 30 "$NAME" >&2
  exit 1
}

test_dind() {
  docker exec "$NAME" docker version --format 'nested daemon {{.Server.Version}}'
  docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 || docker pull -q "$TEST_IMAGE" >/dev/null
  docker save "$TEST_IMAGE" | docker exec -i "$NAME" docker load -q
  docker exec "$NAME" docker run --rm "$TEST_IMAGE" echo "Hello from DIND"
}

cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  echo "DIND environment removed"
}

case "${1:-}" in
  start) start ;;
  test) test_dind ;;
  status) docker ps --filter "name=$NAME" ;;
  cleanup) cleanup ;;
  *) echo "usage: $0 start|test|status|cleanup" >&2; exit 2 ;;
esac
