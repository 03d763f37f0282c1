#!/usr/bin/env bash
# Makes sure `redis-server` (Debian's package) is on the PATH: the topology and cache tests run a real Redis.
# Called by the test project's build and by .ci/run; does nothing when it is already installed.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: redis-server is not installed and apt-get is not available; install Redis for the topology and cache tests" >&2
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "warning: redis-server is not installed; run: sudo apt-get install -y redis-server" >&2
    exit 0
  fi
fi

echo "Installing redis-server (apt-get) for the tests..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq redis-server >/dev/null
