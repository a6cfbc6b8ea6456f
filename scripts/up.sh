#!/usr/bin/env bash
# The README's first command: set everything up, then run Nestor's main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-env.sh
# Nestor's main job: the server with the embedded store and a local runner in one process,
# and a demo job (an image built and run inside its own nested engine) visible through the
# API. Serves until Ctrl-C; `--exit-after-demo` stops after the demo.
exec bin/nestor up "$@"
