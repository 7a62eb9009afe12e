"""`evaluate` through the API on the shipped Debian synopses as real data: it writes eval.json, eval.md and
eval.html (the page loads in headless Chromium with its charts and the closest real pairs), and its figures are
eval.json's."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import browser
from project_env import project_env
from synthc import api

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "package_descriptions" / "data" / "packages.jsonl"
SPEC = """dataset pk {
  rows = 28
  seed = 13
  model = "gpt-4o-mini"
}

field section: category ["admin", "games", "graphics", "net", "science", "sound", "text"]
field synopsis: text from describe { words = 2..12 }

prompt describe {
  user = "Write the one-line synopsis of a Debian package in the {section} section."
  rows_per_call = 4
}

reference real from "data/packages.jsonl" {
  section -> section
  description -> synopsis
  holdout = 20%
}

constraint no_copies: max_similarity_to_real(synopsis) <= 0.8
"""


@pytest.fixture
def evaluated(tmp_path, monkeypatch):
    project_env(tmp_path, monkeypatch)
    (tmp_path / "data").mkdir()
    shutil.copy(DATA, tmp_path / "data" / "packages.jsonl")
    spec = tmp_path / "pk.sds"
    spec.write_text(SPEC, encoding="utf-8")
    real = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    # the first 300 real texts, words reversed: near the real ones in vocabulary, never copies; one planted copy
    rows = [{"section": r["section"], "synopsis": " ".join(reversed(r["description"].split())) + " tool"}
            for r in real[:300]]
    rows[7] = {"section": real[1000]["section"], "synopsis": real[1000]["description"]}
    data = tmp_path / "syn.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return api.evaluate(spec, data, out=tmp_path / "ev")


def test_evaluate_writes_the_three_files_and_returns_eval_json(evaluated, tmp_path):
    ev = evaluated
    assert [p.name for p in ev.files] == ["eval.json", "eval.md", "eval.html"]
    assert ev.figures == json.loads((tmp_path / "ev" / "eval.json").read_text(encoding="utf-8"))
    assert ev.markdown == (tmp_path / "ev" / "eval.md").read_text(encoding="utf-8")
    assert ev.html == (tmp_path / "ev" / "eval.html").read_text(encoding="utf-8")
    assert ev.passed is False and ev.exit_code == 1  # the planted copy breaks no_copies
    assert ev.figures["private"]["texts"]["synopsis"]["max"] == 1.0
    assert "closest" in ev._repr_html_()


@pytest.mark.skipif(not browser.available() and not os.environ.get("CI"),
                    reason="no /usr/bin/chromium: scripts/test.sh installs it (CI fails instead)")
def test_eval_html_loads_in_chromium_with_its_charts_and_closest_pairs(evaluated, tmp_path):
    got = browser.load(tmp_path / "ev" / "eval.html", tmp_path / "profile", [
        "document.querySelectorAll('.chart svg').length",
        "document.querySelectorAll('table.closest tbody tr').length",
        "document.querySelector('table.closest tbody tr').textContent",
    ], tmp_path / "eval.png")
    assert got.errors == [] and got.requests == []
    p = evaluated.figures["private"]["texts"]["synopsis"]
    # the similarity histogram, macro-F1 with its spread, F1 per class
    assert got.values["document.querySelectorAll('.chart svg').length"] == 3
    assert got.values["document.querySelectorAll('table.closest tbody tr').length"] == len(p["closest"]) > 0
    assert p["closest"][0]["text"][:40] in got.values["document.querySelector('table.closest tbody tr').textContent"]
