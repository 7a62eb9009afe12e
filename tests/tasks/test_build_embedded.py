"""`synthc build` on the embedded model, end to end: no key, no network, a few rows; a rebuild makes no call."""

from __future__ import annotations

import importlib.util
import json

import pytest

from project_env import embedded_env
from synthc.cli import main

SPEC = """dataset tiny {
  rows = 3
  seed = 5
}

field animal: category ["cat", "dog", "owl"]
field line: text from say { words = 2..12 }

prompt say {
  user = "Write one short sentence about a {animal}."
}

constraint said: length(line) > 0
"""


@pytest.mark.embedded
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_build_on_the_embedded_model_then_rebuild_from_the_cache(tmp_path, monkeypatch, capsys):
    embedded_env(tmp_path, monkeypatch)
    spec = tmp_path / "tiny.sds"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    code = main(["build", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 1), err  # the 135M model may write a poor line, but the build finishes
    notice = [line for line in err.splitlines() if "embedded SmolLM2" in line]
    assert len(notice) == 1 and "--endpoint" in notice[0]
    rows = [json.loads(x) for x in (out / "tiny.jsonl").read_text().splitlines()]
    assert sorted(r["animal"] for r in rows) == ["cat", "dog", "owl"]
    assert all(isinstance(r["line"], str) and r["line"] for r in rows)
    report = json.loads((out / "report.json").read_text())
    assert report["rows"] == 3 and report["calls"] >= 3 and report["endpoint"] == "embedded"
    lock = json.loads((tmp_path / "tiny.sds.lock").read_text())
    assert lock["endpoint"] == "embedded" and len(lock["calls"]) == report["calls_full_rebuild"]
    data = (out / "tiny.jsonl").read_bytes()

    assert main(["build", str(spec), "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert "embedded SmolLM2" not in err  # everything came from the cache: no server was started
    again = json.loads((out / "report.json").read_text())
    # every row is carried from the row store: no call, not even a cache read of the calls
    assert again["calls"] == 0 and again["calls_full_rebuild"] == report["calls_full_rebuild"]
    assert again["rows_carried"] == report["calls_full_rebuild"]  # one row per call on the embedded model
    assert (out / "tiny.jsonl").read_bytes() == data
