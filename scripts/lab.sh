#!/usr/bin/env bash
# The README's main-job command. Until the full lab lands it applies config/example-state.json
# with the agent inside a namespace it creates, and shows what the kernel holds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/plumb.js lab up "$@"
