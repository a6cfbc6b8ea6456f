#!/usr/bin/env bash
# Brings a fresh Debian/Ubuntu machine to what Nestor needs, and does nothing that is done
# already: npm packages (with Node 24 from the npm registry when the machine's is older), a
# Docker engine (Debian's docker.io, started in the background when none answers), the tools
# that build images locally, jsonnet for .drone.jsonnet, and the images themselves when none can be pulled.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { if [ -t 2 ]; then printf '\033[2m[nestor setup]\033[0m %s\n' "$*" >&2; else printf '[nestor setup] %s\n' "$*" >&2; fi; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    say "missing ${missing[*]} and no apt-get here: install them with your package manager"; exit 1
  fi
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  say "installing ${missing[*]} …"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# 1. npm packages, Node 24 among them (package.json's devDependency "node").
if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (Node 24 included) …"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "node $(node_modules/.bin/node --version)"

# 2. Tools for images built without a registry, and git for later stages.
apt_install ca-certificates git openssl busybox-static debootstrap docker-registry iptables docker-compose openssh-server openssh-client curl
# The reference Jsonnet program, which evaluates Drone's .drone.jsonnet (src/pipeline/formats/drone-jsonnet.ts).
apt_install jsonnet

# 3. A Docker engine that answers.
if ! timeout 5 docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then apt_install docker.io; fi
  if ! timeout 5 docker info >/dev/null 2>&1; then
    # Match the bridge MTU to the uplink's: a larger one silently drops big packets (pulls, TLS).
    mtu=""
    uplink=$(awk '$2 == "00000000" { print $1; exit }' /proc/net/route 2>/dev/null || true)
    if [ -n "$uplink" ] && [ -r "/sys/class/net/$uplink/mtu" ]; then mtu="--mtu=$(cat "/sys/class/net/$uplink/mtu")"; fi
    say "starting dockerd $mtu (log: /var/log/nestor-dockerd.log) …"
    as_root sh -c "nohup setsid dockerd $mtu > /var/log/nestor-dockerd.log 2>&1 &"
    for _ in $(seq 1 60); do timeout 2 docker info >/dev/null 2>&1 && break; sleep 0.5; done
    if ! timeout 5 docker info >/dev/null 2>&1; then
      say "dockerd did not start; its last lines:"; tail -n 30 /var/log/nestor-dockerd.log >&2 || true
      exit 1
    fi
  fi
fi
say "docker engine $(docker version --format '{{.Server.Version}}')"

# 4. The images nested engines need (pulled, or built here when nothing can be pulled).
bin/nestor images bootstrap
