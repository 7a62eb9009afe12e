"""The three renderings: markdown for a PR comment (summary first, details folded, deterministic), the rich
view, and the JSON object with its documented keys."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from diff_support import REVIEWS, make_repo, write

from synthc.diff import diff_revision
from synthc.render.diff import render, to_json_dict, to_markdown


@pytest.fixture(autouse=True)
def _no_env_cache(monkeypatch):
    monkeypatch.delenv("SYNTHC_CACHE", raising=False)


CHANGED = (REVIEWS.replace('"negative": 35%', '"negative": 30%').replace('"positive": 40%', '"positive": 45%')
           .replace("rows = 200", "rows = 180") + '\nconstraint no_shouting: not matches(title, "!!")\n')


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "repo", {"reviews.sds": REVIEWS})
    write(repo, {"reviews.sds": CHANGED})
    return repo


def test_markdown_opens_with_a_one_line_summary_then_folds_details(repo):
    md = to_markdown(diff_revision(repo / "reviews.sds", "HEAD"))
    lines = md.split("\n")
    assert lines[0].startswith("### synthc diff: ") and "`HEAD`" in lines[0]
    summary = lines[2]
    assert summary.startswith("**rows 200 → 180, 1 field changed, 1 constraint added; ") and summary.endswith("**")
    # the repo's cache holds nothing: the summary says it could not consult it (and whose it is), it does not
    # claim every call is new and none answered
    assert re.search(r"\d+ calls \(~\$0\); the cache could not be consulted \(it holds no answers for embedded\); "
                     r"\d+ rows dropped", summary)
    assert md.count("<details>") == md.count("</details>") == 2  # spec, plan
    assert '- share of "negative": `35%` → `30%`' in md
    assert '- added constraint `no_shouting`: `not matches(title, "!!")`' in md


def test_markdown_is_deterministic(repo, tmp_path):
    """Two runs (two temporary copies of the base) give the same bytes: no paths, no clock."""
    a = to_markdown(diff_revision(repo / "reviews.sds", "HEAD"))
    b = to_markdown(diff_revision(repo / "reviews.sds", "HEAD"))
    assert a == b
    assert "synthc-diff-" not in a and str(tmp_path) not in a.replace(str(repo / "reviews.sds"), "")


def test_markdown_escapes_html_in_values(tmp_path):
    base = 'dataset d { rows = 4 }\nfield tag: category ~ {"<b>": 50%, "i": 50%}\n'
    repo = make_repo(tmp_path / "repo", {"d.sds": base})
    write(repo, {"d.sds": base.replace("50%, \"i\": 50%", "40%, \"i\": 60%")})
    md = to_markdown(diff_revision(repo / "d.sds", "HEAD"))
    assert "<b>" not in md.replace("<b>Spec</b>", "").replace("<b>Plan</b>", "")
    assert '- share of "&lt;b&gt;": `50%` → `40%`' in md


def test_json_keys(repo):
    result = diff_revision(repo / "reviews.sds", "HEAD")
    data = json.loads(json.dumps(to_json_dict(result)))
    assert set(data) == {"diff_version", "ok", "changed", "summary", "base", "old", "new", "spec", "plan", "data",
                         "notes", "diagnostics"}
    assert data["ok"] and data["changed"] and data["base"] == "HEAD" and data["data"] is None
    assert set(data["old"]) == {"label", "exists", "dataset", "ir_sha256", "endpoint"}
    assert data["new"]["endpoint"] == "embedded"
    assert set(data["spec"]) == {"dataset", "fields", "joints", "prompts", "judges", "fragments", "constraints",
                                 "reference"}
    assert data["spec"]["fields"]["changed"][0]["changes"][0] == {
        "what": 'share of "positive"', "old": "40%", "new": "45%", "diff": None}
    plan = data["plan"]
    assert len(plan["dropped_ids"]) == plan["rows_dropped"] > 0
    assert plan["calls"] == plan["calls_cached"] + plan["calls_new"]
    assert {"prompt", "calls", "rows", "cached", "new", "unknown", "unchanged", "new_cost_usd",
            "cost_usd", "carried"} == set(plan["prompts"][0])
    assert plan["rows_carried"] == 0  # no build has stored rows here


def test_errors_on_a_side_yield_diagnostics_not_a_diff(tmp_path):
    repo = make_repo(tmp_path / "repo", {"reviews.sds": REVIEWS})
    write(repo, {"reviews.sds": REVIEWS.replace("field posted: date", "field posted: dat")})
    result = diff_revision(repo / "reviews.sds", "HEAD")
    assert not result.ok and result.spec is None and result.plan is None
    data = to_json_dict(result)
    assert data["ok"] is False and data["diagnostics"][0]["side"] == "new"
    assert "a side has errors" in to_markdown(result)


def test_rich_view(repo):
    out = io.StringIO()
    render(diff_revision(repo / "reviews.sds", "HEAD"), Console(file=out, width=200, highlight=False))
    text = out.getvalue()
    assert 'field sentiment: share of "negative": 35% → 30%' in text
    assert "rows kept" in text and "Calls of the new plan" in text
