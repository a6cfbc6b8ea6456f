#!/usr/bin/env bash
# The README's first command: set everything up, then run Nestor's main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-env.sh
# A job in its own throw-away nested engine: `docker build` an image and run it; then the
# engine is destroyed.
exec bin/nestor run -C examples/docker-build "$@"
