#!/bin/sh
# Runs every fuzz target of the repository for a bounded time each, e.g. in
# CI after the tests (which already run each target on its seed corpus):
#
#   scripts/fuzz.sh              # 20s per target
#   scripts/fuzz.sh 1m           # one minute per target
#   scripts/fuzz.sh 20s gateway  # only targets in packages whose path contains "gateway"
#
# A failure leaves the failing input under the package's testdata/fuzz/
# directory; commit it so the seed corpus keeps the case.
set -eu
cd "$(dirname "$0")/.."
time_per_target="${1:-20s}"
filter="${2:-}"
status=0
for file in $(grep -rl --include='*_test.go' '^func Fuzz' cmd internal | sort); do
	dir="./$(dirname "$file")"
	case "$dir" in *"$filter"*) ;; *) continue ;; esac
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "== $dir $target ($time_per_target)"
		if ! go test "$dir" -run '^$' -fuzz "^${target}\$" -fuzztime "$time_per_target" -parallel "${FUZZ_PARALLEL:-2}"; then
			status=1
		fi
	done
done
exit $status
