"""The dataset delta of two build folders: rows by `_id`, marginal shifts, checks that changed state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from diff_support import REVIEWS, FakeModel, checked, identity_of, prepared

from synthc.generate.executor import Executor
from synthc.tasks.build import BuildOptions, write_outputs
from synthc.generate.select import select_rows
from synthc.diff import DiffError, data_delta, diff_files
from synthc.run.cache import AnswerCache
from synthc.validate import validate_rows
from synthc.validate.models import value_key


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("SYNTHC_CACHE", raising=False)


def build(spec_path: Path, cache: Path, out: Path) -> None:
    """What `synthc build` writes, with the fake model: the executor, the final rows, checks, outputs."""
    spec, prep = prepared(spec_path)
    outcome = asyncio.run(Executor(spec, prep.plan, FakeModel(identity_of(prep)), AnswerCache(cache)).run())
    rows = select_rows(spec, prep.plan, outcome.accepted)
    write_outputs(spec, spec_path, prep, BuildOptions(out=out, frozen=True), outcome, rows,
                  validate_rows(spec, rows), [])


def test_two_builds_agree_with_the_plan_delta(tmp_path):
    """Fewer rows: the dataset loses exactly the rows the plan delta drops, gains exactly those it adds, and
    every kept row keeps its text (its request, and so its cached answer, did not change)."""
    old = tmp_path / "old/reviews.sds"
    new = tmp_path / "new/reviews.sds"
    for p, text in ((old, REVIEWS), (new, REVIEWS.replace("rows = 200", "rows = 180"))):
        p.parent.mkdir(parents=True)
        (p.parent / "synthc.toml").touch()
        p.write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    build(old, cache, tmp_path / "build-old")
    build(new, cache, tmp_path / "build-new")
    result = diff_files(old, new, cache_dir=cache, old_build=tmp_path / "build-old", new_build=tmp_path / "build-new")
    d, p = result.data, result.plan
    assert set(d.removed) == set(p.dropped_ids()) and d.rows_removed == p.rows_dropped > 0
    assert set(d.added) == set(p.added_ids())
    # a kept row keeps its text and every value the prompt read; only fields no prompt reads (dealt to the
    # stratum's cells after generation, plan.identity) may move, and in few rows
    read = {"product", "sentiment", "rating", "aspect", "length", "age_band", "label_id", "title", "body"}
    assert all(not set(c.fields) & read for c in d.changed), d.changed
    assert d.rows_changed <= 0.05 * p.rows_kept and d.rows_unchanged + d.rows_changed == p.rows_kept
    assert (d.old_rows, d.new_rows) == (200, 180)
    assert d.marginals_from == "report" and d.checks_compared
    assert d.marginals  # 180 rows cannot hold a 12.5% share exactly: some shares moved
    rows = [json.loads(line) for line in (tmp_path / "build-new/product_reviews.jsonl").open(encoding="utf-8")]
    for m in d.marginals:
        count = sum(1 for r in rows if value_key(r[m.field]) == m.value)
        assert m.new == pytest.approx(count / len(rows))


def _folder(path: Path, rows: list[dict], report: dict | None, name: str = "ds") -> Path:
    path.mkdir(parents=True)
    (path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if report is not None:
        (path / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return path


def _report(checks: dict[str, bool], shares: dict[str, float]) -> dict:
    return {"checks": [{"name": n, "kind": "row", "passed": ok, "violations": 0 if ok else 3}
                       for n, ok in checks.items()],
            "marginals": {"mood": {v: {"target": 0.5, "actual": s, "count": 1} for v, s in shares.items()}}}


def test_rows_changes_marginals_and_checks(tmp_path):
    old = _folder(tmp_path / "a", [{"_id": "k-000000", "mood": "up", "text": "x"},
                                   {"_id": "k-000001", "mood": "down", "text": "y"},
                                   {"_id": "k-000002", "mood": "up", "text": "z"}],
                  _report({"short": True, "unique": False, "gone": True}, {"up": 0.66, "down": 0.34}))
    new = _folder(tmp_path / "b", [{"_id": "k-000000", "mood": "up", "text": "x"},
                                   {"_id": "k-000001", "mood": "up", "text": "w"},
                                   {"_id": "k-000003", "mood": "down", "text": "v"}],
                  _report({"short": False, "unique": True, "new": True}, {"up": 0.66, "down": 0.34}))
    d = data_delta(old, new)
    assert (d.rows_added, d.rows_removed, d.rows_changed, d.rows_unchanged) == (1, 1, 1, 1)
    assert d.added == ("k-000003",) and d.removed == ("k-000002",)
    assert [(c.id, c.fields) for c in d.changed] == [("k-000001", ("mood", "text"))]
    assert d.changed_fields == {"mood": 1, "text": 1}
    assert d.marginals == ()  # the reports say the shares did not move
    assert [(c.name, c.old, c.new) for c in d.checks] == [
        ("short", "passed", "failed"), ("unique", "failed", "passed"), ("new", None, "passed"),
        ("gone", "passed", None)]


def test_without_reports_shares_are_counted_from_rows(tmp_path):
    spec = checked(tmp_path, 'dataset ds { rows = 4 }\nfield mood: category ~ {"up": 50%, "down": 50%}\n')
    old = _folder(tmp_path / "a", [{"_id": "a", "mood": "up"}, {"_id": "b", "mood": "down"}], None)
    new = _folder(tmp_path / "b", [{"_id": "a", "mood": "up"}, {"_id": "b", "mood": "up"}], None)
    d = data_delta(old, new, spec, spec)
    assert d.marginals_from == "rows" and not d.checks_compared
    assert [(m.field, m.value, m.old, m.new) for m in d.marginals] == [("mood", "up", 0.5, 1.0),
                                                                       ("mood", "down", 0.5, None)]


def test_missing_dataset_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    ok = _folder(tmp_path / "b", [{"_id": "a"}], None)
    with pytest.raises(DiffError, match="has no a <dataset>.jsonl"):
        data_delta(tmp_path / "empty", ok)
    with pytest.raises(DiffError, match="does not exist"):
        data_delta(tmp_path / "nope", ok)


def test_build_folders_go_together(tmp_path):
    p = tmp_path / "r.sds"
    p.write_text(REVIEWS, encoding="utf-8")
    with pytest.raises(DiffError, match="go together"):
        diff_files(p, p, old_build=tmp_path)
