#!/usr/bin/env bash
# Sets up .venv (see venv.sh), then checks, plans and builds an example on the embedded model (no key, offline).
# The dataset lands in build/ and the lock next to the spec; a second run makes no calls (the cache is .synthc/).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
cd "$ROOT"
SPEC="${1:-examples/quickstart/quickstart.sds}"
"$VENV/bin/synthc" check "$SPEC"
"$VENV/bin/synthc" plan "$SPEC"
"$VENV/bin/synthc" build "$SPEC" --out build
