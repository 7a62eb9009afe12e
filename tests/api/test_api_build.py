"""A build through the Python API against the loopback fake: the result's report and files are the ones on disk,
its rows come back as pyarrow, pandas and datasets exactly as the Parquet copy holds them, and a stopped build
says why instead of raising."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from project_env import project_env
from synthc import api

SPEC = """dataset notes { rows = 24  seed = 3  model = "gpt-4o-mini"  formats = [jsonl, parquet] }

field topic: category ~ { "a": 50%  "b": 50% }
field n: int in 1..3
field note: text from write { words = 2..6 }

prompt write { user = "Write a note about {topic} number {n}."  rows_per_call = 3 }

constraint fits: word_count(note) <= 6
"""


@pytest.fixture
def spec(tmp_path, monkeypatch):
    project_env(tmp_path, monkeypatch, timeout="0.5")
    p = tmp_path / "notes.sds"
    p.write_text(SPEC, encoding="utf-8")
    return p


def test_a_build_through_the_api_returns_its_report_files_and_rows(spec, fake, capsys):
    out = spec.parent / "out"
    result = api.build(spec, out=out, endpoint=fake.base_url, concurrency=4)
    assert result.ok and result.exit_code == 0 and result.stopped is None
    assert [p.name for p in result.files] == ["notes.jsonl", "notes.parquet", "report.json", "report.md",
                                              "report.html", "README.md", "notes.sds.lock"]
    assert result.report.figures == json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert result.report.markdown == (out / "report.md").read_text(encoding="utf-8") == str(result.report)
    assert result.report.html == (out / "report.html").read_text(encoding="utf-8")
    assert result.report.passed and result.report.figures["calls"] == fake.calls
    assert capsys.readouterr().err == ""  # quiet unless progress is asked for

    table = result.to_arrow()
    parquet = pq.read_table(out / "notes.parquet")
    assert table.to_pylist() == parquet.to_pylist()
    assert table.schema.types == parquet.schema.types  # the Parquet copy adds only NOT NULL
    assert table.column_names == ["_id", "topic", "n", "note"] and table.num_rows == 24
    df = result.to_pandas()
    assert list(df.columns) == table.column_names and df["n"].between(1, 3).all()
    assert sorted(df["topic"].value_counts().to_dict().items()) == [("a", 12), ("b", 12)]
    ds = result.to_dataset()
    assert ds.num_rows == 24 and ds.column_names == table.column_names and ds[0] == df.iloc[0].to_dict()
    assert "<h1>notes</h1>" in result._repr_html_()


def test_progress_shows_the_rounds_on_stderr(spec, fake, capsys):
    result = api.build(spec, out=spec.parent / "out", endpoint=fake.base_url, progress=True)
    assert result.ok
    assert "synthc: round 1:" in capsys.readouterr().err


def test_a_stopped_build_says_why_and_keeps_only_a_partial_result(spec, fake):
    result = api.build(spec, out=spec.parent / "out", endpoint=fake.base_url, max_calls=1)
    assert result.exit_code == 3 and not result.ok
    assert "--max-calls" in result.stopped and result.report is None and result.data_path is None
    assert sorted(p.name for p in result.files) == ["notes.partial.json", "notes.partial.jsonl", "notes.partial.md"]
    assert fake.calls == 1
    with pytest.raises(api.UsageError, match="stopped"):
        result.to_arrow()
    # the same call resumes from the cache
    again = api.build(spec, out=spec.parent / "out", endpoint=fake.base_url)
    assert again.ok and again.report.figures["cache_hits"] >= 1
