#!/usr/bin/env bash
# Build a spec of this example and evaluate the build against the real sample (EVAL.md, docs/EVAL.md).
#
#   bash examples/package_descriptions/eval_demo.sh                      # eval_demo.sds on the embedded model
#   bash examples/package_descriptions/eval_demo.sh SPEC [BUILD FLAGS]   # any spec of this folder, any endpoint
#
# The build goes to build/<spec name>/ (or the --out DIR among the build flags); `synthc eval` writes eval.md and eval.json next to the dataset. Exit code:
# eval's (0 every evaluation constraint holds, 1 one fails, 2 bad input); a build that stops (3) stops here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
synthc="${SYNTHC:-$root/.venv/bin/synthc}"
spec="${1:-$here/eval_demo.sds}"
shift || true
out="build/$(basename "$spec" .sds)"
prev=""
for arg in "$@"; do  # an --out among the build flags is where the build writes: evaluate that build, not another
  case "$arg" in
    --out=*) out="${arg#--out=}" ;;
    *) [ "$prev" = "--out" ] && out="$arg" ;;
  esac
  prev="$arg"
done
status=0
"$synthc" build "$spec" --out "$out" "$@" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then  # 1: the data was written, some check failed
  exit "$status"
fi
data="$(ls "$out"/*.jsonl | grep -v '\.partial\.jsonl$' | head -1)"
exec "$synthc" eval "$spec" "$data" --out "$out"
