"""`synthc diff` on the command line: the contract in synthc.diff's docstring (skipped until cli.py wires it)."""

from __future__ import annotations

import json

import pytest
from diff_support import REVIEWS, make_repo, write

from synthc import cli

pytestmark = pytest.mark.skipif("diff" not in cli._COMMANDS, reason="`synthc diff` is not wired in cli.py yet")


@pytest.fixture(autouse=True)
def _no_env_cache(monkeypatch):
    monkeypatch.delenv("SYNTHC_CACHE", raising=False)


@pytest.fixture
def repo(tmp_path):
    repo = make_repo(tmp_path / "repo", {"reviews.sds": REVIEWS})
    write(repo, {"reviews.sds": REVIEWS.replace("rows = 200", "rows = 180")})
    return repo


def test_markdown_and_json_exit_0(repo, capsys):
    assert cli.main(["diff", str(repo / "reviews.sds"), "--base", "HEAD", "--markdown"]) == 0
    assert "**rows 200 → 180" in capsys.readouterr().out
    assert cli.main(["diff", str(repo / "reviews.sds"), "--base", "HEAD", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["spec"]["dataset"][0]["what"] == "rows"


def test_two_files(repo, tmp_path, capsys):
    old = tmp_path / "old.sds"
    old.write_text(REVIEWS, encoding="utf-8")
    assert cli.main(["diff", str(old), str(repo / "reviews.sds"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plan"]["new_rows"] == 180


def test_errors_exit_2(repo, tmp_path, capsys):
    assert cli.main(["diff", str(repo / "reviews.sds"), "--base", "no-such-rev"]) == 2
    assert "unknown revision" in capsys.readouterr().err
    assert cli.main(["diff", str(repo / "reviews.sds")]) == 2  # one file and no --base
    capsys.readouterr()
    write(repo, {"reviews.sds": REVIEWS.replace("field posted: date", "field posted: dat")})
    assert cli.main(["diff", str(repo / "reviews.sds"), "--base", "HEAD", "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["ok"] is False  # CI can still post what went wrong
    assert "dat" in captured.err
