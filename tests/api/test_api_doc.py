"""docs/API.md's runnable example runs as written and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## A runnable example", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_runnable_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "cache"))
    exec(compile(example(), str(DOC), "exec"), {"__name__": "__api_doc__"})
    out = capsys.readouterr().out
    assert 'error[SDS011]: "biling" is not a value of `team`' in out and "did you mean `billing`?" in out
    assert "40 0\n" in out  # rows and calls of the plan
    assert "True ['schema'," in out and "'urgent_billing']" in out
