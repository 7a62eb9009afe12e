#!/usr/bin/env bash
# Sets up .venv (see venv.sh) and runs the whole test suite. CI runs exactly this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
