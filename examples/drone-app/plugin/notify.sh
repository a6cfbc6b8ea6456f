#!/bin/sh
# Says what a notification plugin would send, from its settings.
set -eu
: "${PLUGIN_CHANNEL:?the channel setting is required}"
echo "to #$PLUGIN_CHANNEL ($PLUGIN_RECIPIENTS): $PLUGIN_MESSAGE"
if [ -n "${PLUGIN_TOKEN:-}" ]; then echo "signed with token $PLUGIN_TOKEN"; fi
echo "build $DRONE_BUILD_STATUS of $DRONE_STAGE_NAME"
