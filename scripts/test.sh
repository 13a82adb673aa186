#!/usr/bin/env bash
# The README's test command: installs what is needed, then runs every test as root.
# Prints a final "N passed, N failed, N skipped" line and every skip reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p .cache
rc=0
npx vitest run --reporter=default --reporter=json --outputFile=.cache/vitest.json "$@" || rc=$?
summary=0
node scripts/test-summary.mjs .cache/vitest.json || summary=1
# vitest fails a run for errors outside any test (an unhandled rejection, a worker past its RPC
# deadline) while every count stays green: say so, or the red run would look passed.
if [ "$rc" != 0 ] && [ "$summary" = 0 ]; then echo "test: vitest FAILED outside the tests (exit $rc): see \"Unhandled Errors\" above"; fi
[ "$summary" = 0 ] || rc=1
# Leftovers from a crashed test would break the next run: report them loudly.
left=$(ip netns list | grep -E '^(pt|plb)-' || true)
if [ -n "$left" ]; then echo "test: namespaces left behind:"; echo "$left"; rc=1; fi
exit $rc
