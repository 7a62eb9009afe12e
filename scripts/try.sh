#!/usr/bin/env bash
# Sets up .venv (see venv.sh) and compiles an example: check, then plan (the build command comes with issue 4).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
cd "$ROOT"
SPEC="${1:-examples/product_reviews/reviews.sds}"
"$VENV/bin/synthc" check "$SPEC"
"$VENV/bin/synthc" plan "$SPEC"
