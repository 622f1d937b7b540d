#!/usr/bin/env bash
# Runs every test of Warden: unit, fuzz seeds, store conformance (SQLite,
# PostgreSQL), Redis limits, and end-to-end tests with the official OpenAI
# SDKs for Go and Node. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x .ci/services ]; then
  .ci/services          # PostgreSQL and Redis for the scale-out tests
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "test.sh: installing Node.js and npm for the openai npm package tests" >&2
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --prefix test/sdk/node --no-audit --no-fund --loglevel=error

# Security console: the built front end is committed (internal/console/dist,
# embedded by go:embed). Install its npm packages, so that
# internal/console/bundle_test.go rebuilds it into a temporary directory and
# fails if the committed bundle differs (rebuilding in place here would hide
# a stale commit), and Chromium for its browser tests (test/e2e/console_test.go).
if ! command -v chromium >/dev/null; then
  echo "test.sh: installing Chromium for the console's browser tests" >&2
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
npm ci --prefix web/console --no-audit --no-fund --loglevel=error

# The Helm chart's test (deploy/deploy_test.go) runs the pinned helm with
# go run. Its first build on a clean machine takes minutes on two cores,
# inside the deploy package's test time and beside every other package's
# tests; build it here, alone, so that the test only links it. The version
# is the test's helmVersion.
helm=$(sed -n 's/^const helmVersion = "\(.*\)"$/\1/p' deploy/deploy_test.go)
go install "$helm"

go vet ./...
go test -count=1 -timeout 20m ./...

# The differential fuzz targets (what the guard inspected equals what the
# upstream reads from the forwarded bytes, for requests and answers) for a
# bounded time, beyond their seed corpus which go test already ran.
for target in FuzzForwardedEqualsInspected FuzzAnswerEqualsInspected; do
  go test ./internal/gateway -run '^$' -fuzz "^${target}\$" -fuzztime 15s -parallel 2
done
# The audit log's event encoder against encoding/json, byte for byte.
go test ./internal/event -run '^$' -fuzz '^FuzzAppendJSON$' -fuzztime 15s -parallel 2
