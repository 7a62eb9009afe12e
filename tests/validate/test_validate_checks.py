"""validate end to end: a spec from .sds text, small datasets in JSONL, Parquet and CSV."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest

from synthc.check import check_file
from synthc.validate import DataError, target_shares, validate_file, validate_rows
from synthc.render.validate import render

SPEC = """
dataset reviews { rows = 5 seed = 1 }
field sentiment: category ~ {"positive": 50%, "neutral": 20%, "negative": 30%}
field rating: int in 1..5 given sentiment {
  "positive": {4: 40%, 5: 60%}
  "neutral": {3: 100%}
  "negative": {1: 1/2, 2: 1/2}
}
field body: text from review { words = 2..6 }
prompt review { user = "Write a {sentiment} review rated {rating}." }
constraint neg_low: sentiment == "negative" => rating <= 2
constraint long_enough: word_count(body) in 2..6
constraint uniq: unique(body)
constraint avg: mean(rating) >= 3
constraint close: tvd(sentiment) <= 5%
"""

ROWS = [
    {"sentiment": "positive", "rating": 5, "body": "great sound and fit"},
    {"sentiment": "negative", "rating": 4, "body": "broke after a week"},  # neg_low
    {"sentiment": "neutral", "rating": 3, "body": "fine"},  # long_enough
    {"sentiment": "positive", "rating": 4, "body": "great sound and fit"},  # uniq
    {"sentiment": "negative", "rating": 1, "body": "bad"},  # long_enough
]


def spec_of(tmp_path, text=SPEC):
    p = tmp_path / "spec.sds"
    p.write_text(text)
    result = check_file(p)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.spec


def write(tmp_path, rows, fmt):
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    if fmt == "jsonl":
        return jsonl
    if fmt == "parquet":
        out = tmp_path / "data.parquet"
        duckdb.connect().execute(f"COPY (SELECT * FROM read_json_auto('{jsonl}')) TO '{out}' (FORMAT parquet)")
        return out
    out = tmp_path / "data.csv"
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


def by_name(report):
    return {c.name: c for c in report.checks}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_counts_violations_per_constraint(tmp_path, fmt):
    report = validate_file(spec_of(tmp_path), write(tmp_path, ROWS, fmt))
    checks = by_name(report)
    assert report.rows == 5
    assert checks["schema"].passed
    assert (checks["neg_low"].passed, checks["neg_low"].violations) == (False, 1)
    assert checks["neg_low"].examples == ({"row": 2, "values": {"rating": 4, "sentiment": "negative"}},)
    assert checks["long_enough"].violations == 2
    assert [e["row"] for e in checks["long_enough"].examples] == [3, 5]
    assert (checks["uniq"].passed, checks["uniq"].violations) == (False, 1)
    assert checks["uniq"].examples == ({"body": "great sound and fit", "copies": 2},)
    assert checks["avg"].passed and checks["avg"].values["mean(rating)"] == pytest.approx(17 / 5)
    assert not checks["close"].passed and checks["close"].violations == 1
    assert not report.passed


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_marginals_and_tvd(tmp_path, fmt):
    report = validate_file(spec_of(tmp_path), write(tmp_path, ROWS, fmt))
    m = report.to_json_dict()["marginals"]
    assert {k: v["target"] for k, v in m["sentiment"].items()} == pytest.approx(
        {"positive": 0.5, "neutral": 0.2, "negative": 0.3})
    assert {k: v["actual"] for k, v in m["sentiment"].items()} == pytest.approx(
        {"positive": 0.4, "neutral": 0.2, "negative": 0.4})
    # rating's target comes through `given`: P(sentiment) * P(rating | sentiment)
    assert {k: v["target"] for k, v in m["rating"].items()} == pytest.approx(
        {"1": 0.15, "2": 0.15, "3": 0.2, "4": 0.2, "5": 0.3})
    assert {k: v["actual"] for k, v in m["rating"].items()} == pytest.approx(
        {"1": 0.2, "2": 0.0, "3": 0.2, "4": 0.4, "5": 0.2})
    want = {"sentiment": 0.5 * (0.1 + 0 + 0.1), "rating": 0.5 * (0.05 + 0.15 + 0 + 0.2 + 0.1)}
    assert report.tvd == pytest.approx(want)
    # the constraint's SQL measures the same tvd as the marginal
    assert by_name(report)["close"].values["tvd(sentiment)"] == pytest.approx(want["sentiment"])


def test_value_outside_the_target_counts_toward_tvd(tmp_path):
    rows = ROWS[:4] + [{"sentiment": "Negative", "rating": 1, "body": "bad one"}]
    report = validate_file(spec_of(tmp_path), write(tmp_path, rows, "jsonl"))
    sentiment = report.marginals[[m.field for m in report.marginals].index("sentiment")]
    assert [v.key for v in sentiment.values] == ["positive", "neutral", "negative", "Negative"]
    assert sentiment.values[-1].target == 0 and sentiment.values[-1].count == 1
    assert sentiment.tvd == pytest.approx(0.5 * (0.1 + 0 + 0.1 + 0.2))


def test_clean_data_passes(tmp_path):
    spec = spec_of(tmp_path, SPEC.replace("tvd(sentiment) <= 5%", "tvd(sentiment) <= 50%"))
    rows = [{"sentiment": "positive", "rating": 5, "body": "great sound and fit"},
            {"sentiment": "negative", "rating": 2, "body": "broke after a week"},
            {"sentiment": "neutral", "rating": 3, "body": "fine for the price"}]
    report = validate_rows(spec, rows)
    assert report.passed, [(c.name, c.detail) for c in report.failed]
    assert all(c.violations == 0 for c in report.checks)


def test_missing_column_fails_the_checks_that_need_it(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "rating"} for r in ROWS]
    report = validate_file(spec_of(tmp_path), write(tmp_path, rows, "jsonl"))
    checks = by_name(report)
    assert not checks["schema"].passed and "`rating`" in checks["schema"].detail
    for name in ("neg_low", "avg"):
        assert not checks[name].passed and checks[name].violations is None
        assert checks[name].detail == "column `rating` is missing from DATA"
    assert checks["long_enough"].violations == 2  # the others still run
    assert "rating" not in report.tvd and "sentiment" in report.tvd


def test_values_that_do_not_parse_are_reported(tmp_path):
    rows = [dict(r) for r in ROWS]
    rows[0]["rating"] = "five"
    report = validate_file(spec_of(tmp_path), write(tmp_path, rows, "csv"))
    assert by_name(report)["schema"].passed  # every column is there
    rating = by_name(report)["type:rating"]
    assert (rating.passed, rating.violations) == (False, 1)
    assert rating.examples == ({"row": 1, "values": {"rating": "five"}, "problem": "not an integer"},)
    assert rating.detail == "1 row: not an integer"


def test_null_value_is_a_violation(tmp_path):
    rows = [dict(r) for r in ROWS]
    del rows[2]["body"]
    report = validate_rows(spec_of(tmp_path), rows)
    assert by_name(report)["long_enough"].examples[0] == {"row": 3, "values": {"body": None}}


def test_rows_and_file_give_the_same_report(tmp_path):
    spec = spec_of(tmp_path)
    a = validate_rows(spec, ROWS).to_json_dict()
    b = validate_file(spec, write(tmp_path, ROWS, "jsonl")).to_json_dict()
    for key in ("checks", "marginals", "tvd", "rows"):
        assert a[key] == b[key]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_reported_sql_reruns_to_the_same_answers(tmp_path, fmt):
    rows = [dict(r) for r in ROWS]
    rows[0]["rating"] = "five"  # in the CSV: a value the load must cast and the schema check count
    report = validate_file(spec_of(tmp_path), write(tmp_path, rows if fmt == "csv" else ROWS, fmt))
    con = duckdb.connect()
    for statement in report.load_sql.split(";\n"):
        con.execute(statement)
    schema = report.checks[0]
    for statement in schema.sql.split(";\n")[1:]:
        assert sum(con.execute(statement).fetchone()) == schema.violations
    for c in report.checks:
        if c.kind == "row":
            assert len(con.execute(c.sql).fetchall()) == c.violations
        elif c.kind == "dataset":
            assert con.execute(c.sql).fetchone()[-1] is c.passed
    for m in report.marginals:
        assert sum(count for *_, count in con.execute(m.sql).fetchall()) == report.rows


def test_no_rows(tmp_path):
    report = validate_rows(spec_of(tmp_path), [])
    checks = by_name(report)
    assert report.rows == 0
    assert checks["neg_low"].passed and not checks["avg"].passed  # a mean of nothing is no mean
    assert report.tvd["sentiment"] == pytest.approx(0.5)


def test_keyword_field_names_end_to_end(tmp_path):
    spec = spec_of(tmp_path, """
dataset t { rows = 2 }
field select: category ~ {"a": 50%, "b": 50%}
field order: int in 0..9
constraint c: select == "a" => order > 3
constraint d: max(order) <= 8
""")
    report = validate_rows(spec, [{"select": "a", "order": 2}, {"select": "b", "order": 9}])
    checks = by_name(report)
    assert checks["c"].violations == 1 and checks["c"].examples[0]["row"] == 1
    assert not checks["d"].passed and checks["d"].values == {"max(order)": 9}
    assert report.tvd == {"select": 0.0}


def test_unreadable_data_raises_data_error(tmp_path):
    spec = spec_of(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        validate_file(spec, tmp_path / "nope.jsonl")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataError, match="unknown data format"):
        validate_file(spec, tmp_path / "x.xlsx")
    (tmp_path / "bad.jsonl").write_text('{"sentiment": \n')
    with pytest.raises(DataError, match="cannot read"):
        validate_file(spec, tmp_path / "bad.jsonl")


def test_report_json_shapes(tmp_path):
    d = validate_rows(spec_of(tmp_path), ROWS).to_json_dict()
    json.dumps(d)  # plain JSON all the way down
    for c in d["checks"]:
        assert {"name", "kind", "passed", "violations", "sql"} <= set(c)
    assert set(d["marginals"]["sentiment"]["neutral"]) >= {"target", "actual"}
    assert set(d["tvd"]) == {"sentiment", "rating"}


def test_target_shares_of_joint_and_given(tmp_path):
    spec = spec_of(tmp_path, """
dataset j { rows = 10 }
field region: category ["eu", "us"]
field tier: category ["free", "pro", "team"]
joint region, tier { ("eu", "free"): 30%, ("eu", "pro"): 20%, ("us", "free"): 40%, ("us", "pro"): 10% }
field plan: category ["a", "b"] given tier {
  "free": {"a": 100%, "b": 0%}
  "pro": {"a": 50%, "b": 50%}
  "team": {"a": 0%, "b": 100%}
}
""")
    assert target_shares(spec, "region") == pytest.approx({"eu": 0.5, "us": 0.5})
    assert target_shares(spec, "tier") == pytest.approx({"free": 0.7, "pro": 0.3, "team": 0.0})
    assert list(target_shares(spec, "tier")) == ["free", "pro", "team"]  # declared order
    assert target_shares(spec, "plan") == pytest.approx({"a": 0.85, "b": 0.15})
    assert target_shares(spec, "nope") is None


def test_render_shows_failures_examples_and_marginals(tmp_path):
    from rich.console import Console

    out = io.StringIO()
    render(validate_rows(spec_of(tmp_path), ROWS), Console(file=out, width=120, highlight=False), show_sql=True)
    text = out.getvalue()
    assert "neg_low: 1 row breaks it" in text
    assert "row 2: rating = 4, sentiment = 'negative'" in text
    assert "sentiment  (tvd 0.100)" in text
    assert "4 of 9 checks failed" in text  # schema, 3 type:FIELD, 5 constraints


def test_pattern_duckdb_cannot_run_fails_the_check_with_a_reason(tmp_path):
    # The checker rejects the regexes it knows RE2 cannot run (SDS019); a pattern that slips past it, or IR
    # written by another tool, must still fail the check with a reason rather than crash validation.
    from synthc import ir

    base = spec_of(tmp_path)
    body = ir.Expr(kind="ref", type="string", field="body")
    pattern = ir.Expr(kind="lit", type="string", value="(?=http)")
    ahead = ir.Constraint(name="ahead", kind="row", fields=("body",), expr=ir.Expr(
        kind="op", type="bool", op="not", args=(ir.Expr(kind="call", type="bool", fn="matches", args=(body, pattern)),)))
    spec = base.model_copy(update={"constraints": base.constraints + (ahead,)})
    check = by_name(validate_rows(spec, ROWS))["ahead"]
    assert not check.passed and check.violations is None
    assert check.detail.startswith("DuckDB could not run this check:")


def test_bool_field_from_csv(tmp_path):
    spec = spec_of(tmp_path, """
dataset t { rows = 4 }
field flag: bool ~ {true: 25%, false: 75%}
constraint some: share(flag) <= 30%
""")
    path = tmp_path / "d.csv"
    path.write_text("flag\ntrue\nfalse\nfalse\nfalse\n")
    report = validate_file(spec, path)
    assert report.passed
    assert report.to_json_dict()["marginals"]["flag"] == {
        "true": {"target": 0.25, "actual": 0.25, "count": 1}, "false": {"target": 0.75, "actual": 0.75, "count": 3}}


PER_SPEC = """
dataset reviews { rows = 12 seed = 1 }
field sentiment: category ~ {"positive": 50%, "negative": 50%}
field rating: int in 1..5
field body: text from review { words = 1..10 }
prompt review { user = "Write a {sentiment} review rated {rating}." }
constraint varied: distinct_n(body, 1) >= 0.5 per sentiment
constraint typical: mean(rating) >= 2 per sentiment, rating
constraint overall: distinct_n(body, 1) >= 0.5
"""


def _per_rows():
    # positive rows repeat one text (distinct-1 = 3/18 words); negative rows never repeat a word
    pos = [{"sentiment": "positive", "rating": 4 + i % 2, "body": "love it so"} for i in range(6)]
    neg = [{"sentiment": "negative", "rating": 1 + i % 2, "body": f"w{3 * i} w{3 * i + 1} w{3 * i + 2}"}
           for i in range(6)]
    return pos + neg + [{"sentiment": None, "rating": 3, "body": "no label here"}]


def test_per_judges_each_group_and_fails_only_where_a_group_fails(tmp_path):
    """LANGUAGE.md "Per stratum": the overall figure passes, the positive group fails, the null label is a group."""
    spec = spec_of(tmp_path, PER_SPEC)
    report = validate_file(spec, write(tmp_path, _per_rows(), "jsonl"))
    checks = {c.name: c for c in report.checks}
    varied, overall = checks["varied"], checks["overall"]
    assert overall.passed
    assert not varied.passed and varied.groups == 3 and varied.violations == 1
    assert varied.values["distinct_n(body, 1) [sentiment = positive]"] == pytest.approx(3 / 18)
    assert varied.values["distinct_n(body, 1) [sentiment = negative]"] == 1.0
    assert varied.values["distinct_n(body, 1) [sentiment = null]"] == 1.0
    assert [e["sentiment"] for e in varied.examples] == ["positive"]
    # ratings 1 and 2 of negative rows are groups of their own: mean 1 fails, every other group passes
    typical = checks["typical"]
    assert typical.groups == 5 and typical.violations == 1
    assert typical.examples[0]["sentiment"] == "negative" and typical.examples[0]["rating"] == 1
    out = io.StringIO()
    from rich.console import Console
    render(report, Console(file=out, width=120))
    assert "fails in 1 of 3 groups" in out.getvalue() and "2 of 3 groups pass" in out.getvalue()


def test_per_sql_reruns_in_duckdb_with_the_same_verdict(tmp_path):
    """A `per` check's sql makes the failing group's table, then judges it: run as a script it gives `passed`."""
    spec = spec_of(tmp_path, PER_SPEC.replace("distinct_n(body, 1) >= 0.5 per", "mean(rating) >= 4.5 per"))
    data = write(tmp_path, _per_rows(), "jsonl")
    c = {c.name: c for c in validate_file(spec, data).checks}["varied"]
    assert not c.passed
    con = duckdb.connect()
    con.execute(f"CREATE TABLE data AS SELECT * FROM read_json_auto('{data}')")
    *setup, query = [s for s in c.sql.split(";\n") if s.strip()]
    for s in setup:
        con.execute(s)
    assert con.execute(query).fetchone()[-1] is False
