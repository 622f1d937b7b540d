#!/usr/bin/env bash
# Builds the security console into internal/console/dist (embedded by
# go:embed). Needs Node.js 20 and npm; installs the locked dependencies first.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node build.mjs
