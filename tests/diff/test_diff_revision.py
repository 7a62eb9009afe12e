"""`diff_revision`: the spec at a git revision (with its imports at that revision) against the working copy,
read with git only: the working tree, the index and HEAD stay as they were."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from diff_support import REVIEWS, git, make_repo, write

from synthc.diff import DiffError, diff_revision
from synthc.diff.spec import change_lines


@pytest.fixture(autouse=True)
def _no_env_cache(monkeypatch):
    monkeypatch.delenv("SYNTHC_CACHE", raising=False)


def _tree_state(repo: Path) -> dict:
    files = {str(p.relative_to(repo)): (p.stat().st_mtime_ns, p.read_bytes())
             for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    return {"files": files, "status": git(repo, "status", "--porcelain"), "head": git(repo, "rev-parse", "HEAD"),
            "index": (repo / ".git/index").read_bytes()}


def test_base_head_diffs_the_working_copy_and_touches_nothing(tmp_path):
    repo = make_repo(tmp_path / "repo", {"data/reviews.sds": REVIEWS})
    changed = REVIEWS.replace('"negative": 35%', '"negative": 30%').replace('"positive": 40%', '"positive": 45%')
    write(repo, {"data/reviews.sds": changed})
    before = _tree_state(repo)
    assert "data/reviews.sds" in before["status"]
    result = diff_revision(repo / "data/reviews.sds", "HEAD")
    assert result.ok
    assert list(change_lines(result.spec)) == ['field sentiment: share of "positive": 40% → 45%',
                                              'field sentiment: share of "negative": 35% → 30%']
    assert result.old.label == "HEAD:data/reviews.sds"
    assert _tree_state(repo) == before


def test_relative_spec_path_and_display(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "repo", {"specs/r.sds": REVIEWS.replace("rows = 200", "rows = 200,, seed")})
    write(repo, {"specs/r.sds": REVIEWS})
    monkeypatch.chdir(repo / "specs")
    result = diff_revision("r.sds", "HEAD")
    assert not result.ok and result.new.ok
    (side, diag), *_ = result.diagnostics()
    assert side is result.old
    assert diag.span.file == "r.sds"  # the path as the user typed it, not the temporary copy's


def test_imports_resolve_at_each_revision(tmp_path):
    main = ('from "./shared/tone.sds" import voice\n'
            'dataset d { rows = 4 }\nfield topic: category ~ {"a": 50%, "b": 50%}\n'
            'field note: text from p\nprompt p { system = voice\n user = "Write about {topic}." }\n')
    repo = make_repo(tmp_path / "repo", {"main.sds": main, "shared/tone.sds": 'fragment voice = "Be brief."\n'})
    write(repo, {"shared/tone.sds": 'fragment voice = "Be brief and kind."\n'})
    result = diff_revision(repo / "main.sds", "HEAD")
    assert result.ok
    (frag,) = result.spec.fragments.changed
    assert frag.name == "voice" and frag.feeds == ("p",)
    assert "-Be brief." in frag.changes[0].diff.split("\n")
    assert "+Be brief and kind." in frag.changes[0].diff.split("\n")


def test_a_spec_new_in_this_change_is_all_added(tmp_path):
    repo = make_repo(tmp_path / "repo", {"README.md": "x\n"})
    write(repo, {"reviews.sds": REVIEWS})
    result = diff_revision(repo / "reviews.sds", "HEAD")
    assert result.ok and not result.old.exists and result.new.exists
    assert len(result.spec.fields.added) == len(result.new.spec.fields)
    assert result.plan.rows_added == 200 and result.plan.rows_dropped == 0


def test_a_deleted_spec_is_all_removed(tmp_path):
    repo = make_repo(tmp_path / "repo", {"reviews.sds": REVIEWS})
    os.remove(repo / "reviews.sds")
    result = diff_revision(repo / "reviews.sds", "HEAD")
    assert result.ok and result.old.exists and not result.new.exists
    assert [i.name for i in result.spec.prompts.removed] == ["review"]
    assert result.plan.rows_dropped == 200 and result.plan.calls == 0


def test_an_older_revision(tmp_path):
    repo = make_repo(tmp_path / "repo", {"reviews.sds": REVIEWS})
    write(repo, {"reviews.sds": REVIEWS.replace("rows = 200", "rows = 180")})
    git(repo, "commit", "-qam", "fewer rows")
    result = diff_revision(repo / "reviews.sds", "HEAD~1")
    assert list(change_lines(result.spec)) == ["dataset rows: 200 → 180"]


def test_unknown_revision(tmp_path):
    repo = make_repo(tmp_path / "repo", {"reviews.sds": REVIEWS})
    with pytest.raises(DiffError, match="unknown revision `origin/nope`"):
        diff_revision(repo / "reviews.sds", "origin/nope")
    with pytest.raises(DiffError, match="unknown revision"):
        diff_revision(repo / "reviews.sds", "--output=/tmp/x")


def test_not_a_git_repository(tmp_path):
    (tmp_path / "reviews.sds").write_text(REVIEWS, encoding="utf-8")
    with pytest.raises(DiffError, match="not inside a git repository"):
        diff_revision(tmp_path / "reviews.sds", "HEAD")


def test_missing_on_both_sides(tmp_path):
    repo = make_repo(tmp_path / "repo", {"README.md": "x\n"})
    with pytest.raises(DiffError, match="exists neither"):
        diff_revision(repo / "nope.sds", "HEAD")


def test_the_base_lock_sizes_the_old_plan(tmp_path):
    """The old side is planned with the lock committed at the base (its acceptance sizes the spares)."""
    import json

    # 75 rows of a generic profile (10 rows per call at most, concurrency 4): 8 calls with room for 5 spares, which
    # acceptance 0.9 fills and 0.99 does not need (spares only fill free room: docs/BUILD.md "The round engine")
    spec = ('dataset t { rows = 75, seed = 1, model = "some-model" }\n'
            'field topic: category ~ {"a": 50%, "b": 50%}\n'
            'field note: text from write { words = 2..6 }\n'
            'prompt write { user = "About {topic}." }\n')
    lock = {"lock_version": 1, "ir_sha256": "other", "acceptance": {"rate": 0.99, "by_stratum": {}}}
    repo = make_repo(tmp_path / "repo", {"t.sds": spec, "t.sds.lock": json.dumps(lock)})
    os.remove(repo / "t.sds.lock")  # the working copy has no lock: default acceptance (0.9)
    result = diff_revision(repo / "t.sds", "HEAD")
    assert result.old.plan.spare_rows < result.new.plan.spare_rows
