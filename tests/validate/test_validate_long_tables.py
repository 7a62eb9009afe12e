"""A field of many values: text output shows the values furthest from their target and "and N more"; JSON and
report.json keep every value (issue 22)."""

from __future__ import annotations

import json
import re

from synthc.cli import main
from synthc.emit.report import _marginals_md
from synthc.validate.models import SHOWN_VALUES, worst_first

VALUES = 2_000


def _project(tmp_path):
    values = ", ".join(f'"v{i}"' for i in range(VALUES))
    spec = tmp_path / "many.sds"
    spec.write_text(f"dataset d {{\n  rows = 100\n  seed = 1\n}}\nfield bucket: category [{values}]\n")
    data = tmp_path / "many.jsonl"
    data.write_text("".join(json.dumps({"_id": str(i), "bucket": f"v{i % 7}"}) + "\n" for i in range(100)))
    return spec, data


def test_validate_text_cuts_a_long_table_and_json_keeps_it(tmp_path, capsys):
    spec, data = _project(tmp_path)
    main(["validate", str(spec), str(data)])
    text = capsys.readouterr().out
    assert f"and {VALUES - SHOWN_VALUES:,} more values" in text
    assert len(text.splitlines()) < SHOWN_VALUES + 30
    assert all(f" v{i} " in text for i in range(7))  # the values far from their target are the ones shown
    main(["validate", str(spec), str(data), "--json"])
    assert len(json.loads(capsys.readouterr().out)["marginals"]["bucket"]) == VALUES


def test_report_md_cuts_a_long_table():
    values = {f"v{i}": {"target": 1 / VALUES, "actual": 0.5 if i in (3, 1500) else 0.0, "count": 1}
              for i in range(VALUES)}
    lines = _marginals_md({"bucket": values}, {"bucket": 0.5})
    md = "\n".join(lines)
    assert f"and {VALUES - SHOWN_VALUES:,} more values" in md and "| v1500 |" in md and "| v3 |" in md
    assert len([ln for ln in lines if re.match(r"\| v\d+ \|", ln)]) == SHOWN_VALUES


def test_worst_first_keeps_the_given_order():
    shown, more = worst_first([5, 1, 9, 3, 7], off=lambda x: x, n=3)
    assert shown == [5, 9, 7] and more == 2
    assert worst_first([1, 2], off=lambda x: x, n=3) == ([1, 2], 0)
