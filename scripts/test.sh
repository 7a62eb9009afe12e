#!/usr/bin/env bash
# Sets up .venv (see venv.sh) and runs the whole test suite. CI runs exactly this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/venv.sh"
# report.html and eval.html are tested in a real browser: Debian's headless Chromium (tests/browser.py)
if [ ! -x /usr/bin/chromium ] && command -v apt-get > /dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo > /dev/null && SUDO="sudo"
  $SUDO apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium > /dev/null
fi
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
