#!/bin/sh
echo "$1, $2! (from $GREETED_BY; INPUT_WHO=$INPUT_WHO)"
echo "workspace has: $(ls "$GITHUB_WORKSPACE" | tr '\n' ' ')"
echo "greeted=$2" >> "$GITHUB_OUTPUT"
