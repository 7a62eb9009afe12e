"""validate's type checks (validate/types.py): each kind of value that does not fit its field, per file format.

Each case is data: a field declaration, the values of three rows, and what `type:FIELD` must say about them
(the rows that break it, by number, and the problem each one has).
"""

from __future__ import annotations

import json

import duckdb
import pytest

from synthc.check import check_file
from synthc.validate import validate_file, validate_rows

HEAD = 'dataset t { rows = 3 seed = 1 }\nprompt p { user = "Write one." }\n'

OBJECT = """object {
  severity: enum ["low", "high"]
  notes: list[text]
  scores: object { pain: int in 0..10 }
} from p"""
GOOD_OBJECT = {"severity": "low", "notes": ["ok"], "scores": {"pain": 2}}

# (name, declarations, field checked, its three values, {row: problem})
CASES = [
    ("category outside its domain", 'field c: category ["a", "b"]', "c", ["a", "zz", "b"],
     {2: 'not one of "a", "b"'}),
    ("null", 'field c: category ["a", "b"]', "c", ["a", None, "b"], {2: "missing"}),
    ("int outside its range", "field n: int in 1..5", "n", [1, 9, 0], {2: "outside 1..5", 3: "outside 1..5"}),
    ("int that is not whole", "field n: int in 1..5", "n", [1, 2.5, 3], {2: "not an integer"}),
    ("float outside its range", "field x: float in 0..1", "x", [0.5, 1.5, 1], {2: "outside 0..1"}),
    ("text holding a number", "field body: text from p", "body", ["fine", 42, "ok"], {2: "not text"}),
    ("bool that is not", "field ok: bool", "ok", [True, "maybe", False], {2: "not true or false"}),
    ("date outside its range", "field d: date in 2024-01-01..2024-12-31", "d",
     ["2024-03-01", "2025-01-01", "2024-12-31"], {2: "outside 2024-01-01..2024-12-31"}),
    ("date that does not parse", "field d: date in 2024-01-01..2024-12-31", "d",
     ["2024-03-01", "someday", "2024-12-31"], {2: "not a date (YYYY-MM-DD)"}),
    ("enum outside its values", 'field e: enum ["x", "y"] from p', "e", ["x", "y", "w"], {3: 'not one of "x", "y"'}),
    ("object member with an unknown enum value", f"field a: {OBJECT}", "a",
     [GOOD_OBJECT, {**GOOD_OBJECT, "severity": "hgih"}, GOOD_OBJECT],
     {2: '`severity` is not one of "low", "high"'}),
    ("object with a missing member", f"field a: {OBJECT}", "a",
     [GOOD_OBJECT, {"severity": "low", "scores": {"pain": 2}}, GOOD_OBJECT], {2: "`notes` is missing"}),
    ("nested member out of range", f"field a: {OBJECT}", "a",
     [GOOD_OBJECT, GOOD_OBJECT, {**GOOD_OBJECT, "scores": {"pain": 11}}], {3: "`scores.pain` is outside 0..10"}),
    ("object member list with a wrong item", f"field a: {OBJECT}", "a",
     [{**GOOD_OBJECT, "notes": ["a", 3]}, GOOD_OBJECT, GOOD_OBJECT], {1: "an item of `notes` is not text"}),
    ("list with wrong item types", 'field tags: list[enum ["x", "y"]] from p', "tags", [["x"], [1], ["y", "x"]],
     {2: "an item is not text"}),
    ("list with an item outside the enum", 'field tags: list[enum ["x", "y"]] from p', "tags",
     [["x"], ["y", "q"], []], {2: 'an item is not one of "x", "y"'}),
    ("not a list", "field tags: list[text] from p", "tags", [["x"], "x", ["y"]], {2: "not a list"}),
    ("derived value that differs from its expression", "field n: int in 1..5\nfield twice = n * 2", "twice",
     [2, 5, 6], {2: "differs from its expression"}),
    ("derived float within rounding", "field n: int in 1..5\nfield third = n / 3", "third",
     [1 / 3, 2 / 3 + 1e-13, 1.5], {3: "differs from its expression"}),
]
NUMBERS = {"twice": "n", "third": "n"}  # a derived field's input: rows 1..3 have n = 1, 2, 3


def spec_of(tmp_path, decls: str):
    p = tmp_path / "spec.sds"
    p.write_text(HEAD + decls + "\n")
    result = check_file(p)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.spec


def rows_of(field: str, values: list) -> list[dict]:
    rows = [{field: v} for v in values]
    if field in NUMBERS:
        for i, r in enumerate(rows, 1):
            r[NUMBERS[field]] = i
    return rows


def write(tmp_path, rows: list[dict], fmt: str):
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if fmt == "jsonl":
        return jsonl
    out = tmp_path / "data.parquet"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_json_auto('{jsonl}')) TO '{out}' (FORMAT parquet)")
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "rows"])
@pytest.mark.parametrize("name, decls, field, values, want", CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_type_violation(tmp_path, fmt, name, decls, field, values, want):
    spec = spec_of(tmp_path, decls)
    rows = rows_of(field, values)
    report = validate_rows(spec, rows) if fmt == "rows" else validate_file(spec, write(tmp_path, rows, fmt))
    check = {c.name: c for c in report.checks}[f"type:{field}"]
    assert check.kind == "type" and not check.passed and not report.passed
    assert check.violations == len(want)
    assert {e["row"]: e["problem"] for e in check.examples} == want
    counts: dict[str, int] = {}
    for problem in want.values():
        counts[problem] = counts.get(problem, 0) + 1
    for problem, n in counts.items():
        assert f"{n} row{'s' * (n != 1)}: {problem}" in check.detail


@pytest.mark.parametrize("name, decls, field, values, want", CASES, ids=[c[0] for c in CASES])
def test_fitting_values_pass(tmp_path, name, decls, field, values, want):
    """The same field with the offending rows left out passes: the check names the rows it should, no more."""
    spec = spec_of(tmp_path, decls)
    rows = [r for i, r in enumerate(rows_of(field, values), 1) if i not in want]
    check = {c.name: c for c in validate_rows(spec, rows).checks}[f"type:{field}"]
    assert check.passed and check.violations == 0 and check.detail is None


def test_csv_values_are_checked_as_their_types(tmp_path):
    spec = spec_of(tmp_path, 'field c: category ["a", "b"]\nfield n: int in 1..5\nfield d: date in 2024-01-01..2024-12-31')
    path = tmp_path / "data.csv"
    path.write_text("c,n,d\na,1,2024-01-01\nq,2.5,2024-02-30\nb,7,\n")
    checks = {c.name: c for c in validate_file(spec, path).checks}
    assert {e["row"]: e["problem"] for e in checks["type:c"].examples} == {2: 'not one of "a", "b"'}
    assert {e["row"]: e["problem"] for e in checks["type:n"].examples} == {2: "not an integer", 3: "outside 1..5"}
    assert {e["row"]: e["problem"] for e in checks["type:d"].examples} == {
        2: "not a date (YYYY-MM-DD)", 3: "missing"}
    assert checks["type:n"].examples[0]["values"] == {"n": "2.5"}  # as the file has it


def test_examples_stop_at_three_and_the_count_does_not(tmp_path):
    spec = spec_of(tmp_path, "field n: int in 1..5")
    check = {c.name: c for c in validate_rows(spec, [{"n": 9}] * 10).checks}["type:n"]
    assert check.violations == 10 and [e["row"] for e in check.examples] == [1, 2, 3]


def test_the_sql_of_a_type_check_reruns_it(tmp_path):
    spec = spec_of(tmp_path, 'field c: category ["a", "b"]')
    path = write(tmp_path, [{"c": "a"}, {"c": "x"}, {"c": "y"}], "jsonl")
    report = validate_file(spec, path)
    check = {c.name: c for c in report.checks}["type:c"]
    con = duckdb.connect()
    for stmt in report.load_sql.split(";\n"):
        con.execute(stmt)
    assert [r[0] for r in con.execute(check.sql).fetchall()] == [2, 3]


def test_the_command_exits_1_and_names_the_type_check(tmp_path, capsys):
    from synthc.cli import main

    spec_path = tmp_path / "spec.sds"
    spec_path.write_text(HEAD + 'field c: category ["a", "b"]\nfield n: int in 1..5\n')
    data = write(tmp_path, [{"c": "a", "n": 1}, {"c": "a", "n": 2}], "jsonl")
    assert main(["validate", str(spec_path), str(data), "--json"]) == 0
    capsys.readouterr()
    data = write(tmp_path, [{"c": "a", "n": 1}, {"c": "q", "n": 7}], "jsonl")
    assert main(["validate", str(spec_path), str(data), "--json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["type:c"]["kind"] == "type" and checks["type:c"]["violations"] == 1
    assert checks["type:c"]["examples"] == [{"row": 2, "values": {"c": "q"}, "problem": 'not one of "a", "b"'}]
    assert checks["type:n"]["detail"] == "1 row: outside 1..5"
