#!/usr/bin/env bash
# Installs the Debian packages the test suite runs against, when they are missing:
#   chromium        browser tests (Playwright drives Debian's Chromium; it cannot download its own here)
#   nginx-light     the native run of the docker-compose topology
#   docker-compose  validating docker-compose.yml without a Docker engine
#   npm             installing axe-core, the accessibility checker the browser journeys inject
# Needs root or password-less sudo; otherwise it says what to install and fails.
set -euo pipefail
need=()
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v npm >/dev/null 2>&1 || need+=(npm)
((${#need[@]})) || exit 0
if [[ $(id -u) -eq 0 ]]; then
  run=()
elif sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "Missing system packages: ${need[*]}. Install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts nginx after installing it; the tests run their own on free ports.
if [[ " ${need[*]} " == *" nginx-light "* ]]; then
  "${run[@]}" nginx -s stop 2>/dev/null || true
fi
echo "installed: ${need[*]}"
