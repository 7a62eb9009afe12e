"""What `synthc check` says about a reference file that cannot serve (issue 22): each message names what is wrong
with the file, not a symptom of it (a column `json`, `column0`, `text,label`; "CSV Error on Line: 2")."""

from __future__ import annotations

import json
import os

import pytest

from synthc.cli import main

SPEC = """dataset r {{
  rows = 20
  seed = 1
}}
reference real from "{path}" {{
  text -> body
}}
field body: text from p
prompt p {{
  user = "Write."
  examples = real(2)
}}
"""

# (file name, content, exit code, code, words the message must hold)
CASES = [
    ("empty.jsonl", b"", 2, "SDS080", "is empty: it has no rows"),
    ("blank.jsonl", b"\n\n  \n", 2, "SDS080", "is empty"),
    ("empty.csv", b"", 2, "SDS080", "has no rows and no header"),
    ("ragged.csv", b"text,label\nhello,a\nbye,b,extra\nok,a\n", 2, "SDS082", "do not all have as many fields"),
    ("latin.csv", b"text,label\ncaf\xe9 au lait,a\nhello,b\n", 2, "SDS080", "is not UTF-8: line 2 has the byte 0xe9"),
    ("mixed.jsonl", b'{"text": "a"}\n{"text": 5}\n{"text": "c"}\n', 2, "SDS083", "line 2 has 5 (a number)"),
    ("header.csv", b"text,label\n", 0, "SDS140", "has no rows, only a header"),
]


@pytest.mark.parametrize("name,content,exit_code,code,words", CASES, ids=[c[0] for c in CASES])
def test_a_reference_file_that_cannot_serve_says_why(tmp_path, monkeypatch, capsys, name, content, exit_code, code,
                                                     words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "synthc.toml").write_text("")
    (tmp_path / name).write_bytes(content)
    (tmp_path / "s.sds").write_text(SPEC.format(path=name))
    assert main(["check", "s.sds", "--format", "json"]) == exit_code
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert any(d["code"] == code and words in d["message"] for d in found), found


def test_a_folder_and_a_symlink_loop_are_named_as_such(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "synthc.toml").write_text("")
    (tmp_path / "rows.jsonl").mkdir()
    os.symlink("loop.jsonl", tmp_path / "loop.jsonl")
    for path, words in (("rows.jsonl", "is a folder, not a file"), ("loop.jsonl", "leads back to itself")):
        (tmp_path / "s.sds").write_text(SPEC.format(path=path))
        assert main(["check", "s.sds", "--format", "json"]) == 2
        found = json.loads(capsys.readouterr().out)["diagnostics"]
        assert [d["code"] for d in found] == ["SDS080"] and words in found[0]["message"]
