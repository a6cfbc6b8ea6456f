#!/usr/bin/env bash
set -euo pipefail
greeting="hello, $1, from $(basename "$(dirname "$0")")"
echo "$greeting"
echo "greeting=$greeting" >> "$GITHUB_OUTPUT"
