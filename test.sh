#!/usr/bin/env bash
# Runs every test. Does all set-up on a fresh machine: the pinned npm peers (npm ci, also done by the test project's
# build), NuGet restore, build, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
dotnet test McpProxy.slnx --logger "console;verbosity=normal" "$@"
