"""examples/package_descriptions/eval_demo.sh evaluates the build it just made, wherever `--out` put it (issue 22:
it evaluated the previous build's data under build/<spec>/)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "package_descriptions" / "eval_demo.sh"
STUB = """#!/usr/bin/env bash
echo "$@" >> "$LOG"
if [ "$1" = build ]; then
  out=""; prev=""
  for a in "$@"; do [ "$prev" = "--out" ] && out="$a"; case "$a" in --out=*) out="${a#--out=}";; esac; prev="$a"; done
  mkdir -p "$out"; echo '{}' > "$out/data.jsonl"
fi
"""


@pytest.mark.parametrize("flags", [["--out", "{dir}"], ["--out={dir}"], ["--model", "m", "--out", "{dir}"]])
def test_the_demo_evaluates_the_folder_the_build_wrote(tmp_path, flags):
    stub = tmp_path / "synthc"
    stub.write_text(STUB)
    stub.chmod(0o755)
    log = tmp_path / "log"
    (tmp_path / "build" / "spec").mkdir(parents=True)
    (tmp_path / "build" / "spec" / "old.jsonl").write_text("{}\n")  # an earlier build's data: not this one's
    target = tmp_path / "elsewhere"
    args = [f.format(dir=target) for f in flags]
    subprocess.run(["bash", str(SCRIPT), "spec.sds", *args], cwd=tmp_path, check=True,
                   env=dict(os.environ, SYNTHC=str(stub), LOG=str(log)))
    build, evaluate = log.read_text().splitlines()
    assert evaluate == f"eval spec.sds {target}/data.jsonl --out {target}"
