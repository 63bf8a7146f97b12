#!/usr/bin/env bash
# The newcomer's demo: installs what is missing (Debian docker-registry and skopeo, npm packages),
# builds, then runs a full export → verify → import on loopback registries (scripts/demo.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
if [ ${#need[@]} -gt 0 ]; then
  echo "demo: installing ${need[*]} (Debian packages) ..."
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "demo: installing npm packages ..."
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
exec node dist/scripts/demo.js "$@"
