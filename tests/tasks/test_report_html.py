"""report.html in a real browser (headless Chromium, installed by scripts/test.sh): a build against the loopback
fake writes a page that loads with no console error and no request beyond itself, shows its charts, the row
browser (whose filters work) and the rejected rows with their reasons; the figures are report.json's."""

from __future__ import annotations

import json
import os
import re

import pytest

import browser
from project_env import project_env
from synthc.cli import main

# the fake writes 2 to 6 words: notes of more than 4 words are rejected and written again
SPEC = """dataset pages {
  rows = 30
  seed = 5
  model = "gpt-4o-mini"
}

field shelf: category ~ { "top": 40%  "middle": 30%  "bottom": 30% }
field size: category ~ { "small": 50%  "large": 50% }
field label: text from write { words = 2..6 }

prompt write {
  user = "Write a label for a {size} box on the {shelf} shelf."
  rows_per_call = 5
}

constraint short: word_count(label) <= 4
"""

needs_chromium = pytest.mark.skipif(not browser.available() and not os.environ.get("CI"),
                                    reason="no /usr/bin/chromium: scripts/test.sh installs it (CI fails instead)")


@pytest.fixture
def built(tmp_path, monkeypatch, fake):
    project_env(tmp_path, monkeypatch)
    spec = tmp_path / "pages.sds"
    spec.write_text(SPEC, encoding="utf-8")
    code = main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(tmp_path / "out")])
    assert code == 0
    return tmp_path / "out"


SHOWN = "Array.from(document.querySelectorAll('#rows tbody tr')).filter(r => !r.hidden).length"
PICK = ("(() => { const s = document.querySelector('select[data-filter]'); s.value = 'top'; "
        "s.dispatchEvent(new Event('change')); return s.parentElement.textContent.split(' ')[0]; })()")


@needs_chromium
def test_the_report_page_loads_in_chromium_with_charts_rows_and_rejections(built, tmp_path):
    report = json.loads((built / "report.json").read_text(encoding="utf-8"))
    page = built / "report.html"
    got = browser.load(page, tmp_path / "profile", [
        "document.querySelectorAll('.chart svg').length",
        "document.querySelectorAll('#rows tbody tr').length",
        "document.querySelectorAll('#rejected tbody tr').length",
        "document.querySelector('#rejected').textContent",
        PICK, SHOWN, "document.getElementById('rows-shown').textContent",
    ], tmp_path / "report.png")
    assert got.errors == [] and got.requests == []
    v = got.values
    # one chart per marginal field (shelf, size) and one of the label lengths
    assert v["document.querySelectorAll('.chart svg').length"] == len(report["marginals"]) + 1 == 3
    assert v["document.querySelectorAll('#rows tbody tr').length"] == report["rows"] == 30
    rejected = report["rejected"]["short"]
    assert rejected["count"] > 0  # the constraint did reject rows, and the page lists the examples
    assert v["document.querySelectorAll('#rejected tbody tr').length"] == len(rejected["examples"])
    assert "short" in v["document.querySelector('#rejected').textContent"]
    # the first filter is a stratum field; picking `top` leaves the rows of that stratum
    assert v[PICK] == "shelf"
    top = sum(1 for r in (built / "pages.jsonl").read_text().splitlines() if json.loads(r)["shelf"] == "top")
    assert v[SHOWN] == top == 12 and v["document.getElementById('rows-shown').textContent"] == "12"
    assert got.screenshot.stat().st_size > 10_000


def test_the_page_says_what_report_json_says(built):
    report = json.loads((built / "report.json").read_text(encoding="utf-8"))
    page = (built / "report.html").read_text(encoding="utf-8")
    # nothing to fetch: no source, link or stylesheet outside the page (the browser test counts requests too)
    assert not re.search(r"""(src|href)=["'](?!#)|url\((?!#)|@import""", page)
    for field, values in report["marginals"].items():
        for value, v in values.items():
            assert f"<td>{value}</td><td class=\"n\">{100 * v['target']:.1f}%</td>" \
                   f"<td class=\"n\">{100 * v['actual']:.1f}%</td>" in page
    assert report["planned"] == {"shelf": {"bottom": 0.3, "middle": 0.3, "top": 0.4},
                                 "size": {"large": 0.5, "small": 0.5}}
    assert f"{report['calls']:,} calls made" in page


RENDER = """import json, sys
from pathlib import Path
from synthc.check import check_file
from synthc.emit.html import report_page
out = Path(sys.argv[1])
spec = check_file(sys.argv[2]).spec
rows = [json.loads(line) for line in (out / "pages.jsonl").read_text().splitlines()]
sys.stdout.write(report_page(spec, json.loads((out / "report.json").read_text()), rows))
"""


def test_the_page_is_the_same_bytes_in_another_process(built):
    # charts included: the SVG has no ids and no date (emit.charts)
    import subprocess
    import sys

    pages = [subprocess.run([sys.executable, "-c", RENDER, str(built), str(built.parent / "pages.sds")],
                            capture_output=True, text=True, timeout=120, check=True).stdout for _ in range(2)]
    assert pages[0] == pages[1] == (built / "report.html").read_text(encoding="utf-8")
    assert pages[0].count("<svg") == 3


def test_a_bar_chart_draws_one_bar_per_value_and_names_every_label():
    from synthc.emit.charts import bars, ticks

    svg = bars("tone: share of rows", ["polite", "annoyed", "confused"],
               {"target": [0.5, 0.3, 0.2], "built": [0.55, None, 0.2]})
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 5 + 2  # five bars (None draws none) and two legend keys
    for label in ("polite", "annoyed", "confused", "target", "built", "tone: share of rows"):
        assert f">{label}<" in svg
    assert svg == bars("tone: share of rows", ["polite", "annoyed", "confused"],
                       {"target": [0.5, 0.3, 0.2], "built": [0.55, None, 0.2]})  # same figures, same bytes
    assert ticks(0.55) == [0.0, 0.2, 0.4, 0.6] and ticks(37, 4) == [0, 10, 20, 30, 40]


def test_a_histogram_draws_one_bar_per_bin_with_its_count():
    from synthc.emit.charts import histogram

    svg = histogram("body: words per row", [0, 5, 10, 15], [3, 0, 7], xlabel="words", marker=12,
                    marker_label="threshold 12")
    assert svg.count("<rect") == 3
    assert "0 to 5: 3<" in svg and "10 to 15: 7<" in svg and ">threshold 12<" in svg
