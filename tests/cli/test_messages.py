"""Messages people read: no empty names, no float noise, plurals, file modes that follow the umask."""

from __future__ import annotations

import io
import json
import os
import stat

import pytest
from rich.console import Console

from synthc import atomic
from synthc.check import check_file
from synthc.emit.outputs import write_copies
from synthc.plan.allocate import few_rows_message
from synthc.validate.models import CheckResult, ValidationReport, number_text
from synthc.render.validate import render


def test_few_rows_message_names_fields_when_it_has_them():
    text = few_rows_message(1, 2, ["tier", "region"], {"tier": "pro", "region": "eu"}, 3)
    assert text == "1 combination of tier, region gets fewer than 5 rows (e.g. tier=pro, region=eu: 3); too few to show their variety"


@pytest.mark.parametrize("count, want", [(1, "1 stratum gets"), (4, "4 strata get")])
def test_few_rows_message_without_names_has_no_empty_gaps(count, want):
    text = few_rows_message(count, 1, [], {}, 3)
    assert text.startswith(want) and "(the smallest: 3)" in text
    assert "of  " not in text and "e.g. :" not in text


@pytest.mark.parametrize("v, want", [(2.082e-17, "0"), (-3e-13, "0"), (0.0208333, "0.0208"), (3.4, "3.4"),
                                     (1250.0, "1,250"), (0.5, "0.5"), (1 / 3, "0.3333"), (2e-6, "2e-06")])
def test_number_text_is_fixed_and_readable(v, want):
    assert number_text(v) == want


def _report(n_checks: int) -> ValidationReport:
    checks = tuple(CheckResult(name=f"c{i}", kind="row", passed=True, violations=0, sql="") for i in range(n_checks))
    return ValidationReport(rows=1, checks=checks)


@pytest.mark.parametrize("n, want", [(1, "1 check passed"), (3, "all 3 checks passed")])
def test_validate_says_checks_in_the_right_number(n, want):
    out = io.StringIO()
    render(_report(n), Console(file=out, width=100))
    text = out.getvalue()
    assert want in text and "all 1 checks" not in text


def test_measured_float_noise_shows_as_zero():
    c = CheckResult(name="close", kind="dataset", passed=True, violations=0, sql="",
                    values={"tvd(sentiment)": 2.082e-17})
    out = io.StringIO()
    render(ValidationReport(rows=1, checks=(c,)), Console(file=out, width=100))
    assert "tvd(sentiment) = 0" in out.getvalue() and "e-17" not in out.getvalue()


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    atomic.file_mode.cache_clear()
    yield 0o640
    os.umask(old)
    atomic.file_mode.cache_clear()


def test_every_output_gets_the_mode_the_umask_gives(tmp_path, umask_027):
    atomic.write_atomic(tmp_path / "report.json", b"{}")
    spec_path = tmp_path / "s.sds"
    spec_path.write_text('dataset d { rows = 1 }\nfield c: category ["a"]\n')
    spec = check_file(spec_path).spec
    jsonl = tmp_path / "d.jsonl"
    atomic.write_atomic(jsonl, (json.dumps({"_id": "x", "c": "a"}) + "\n").encode())
    write_copies(spec, jsonl, {"parquet": tmp_path / "d.parquet", "csv": tmp_path / "d.csv"})
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir() if p.name != "s.sds"}
    assert modes == {"report.json": umask_027, "d.jsonl": umask_027, "d.parquet": umask_027, "d.csv": umask_027}


PLAN_SPEC = """dataset d { rows = 200 seed = 1 model = "gpt-4o-mini" }
field c: category ["a", "b"]
field t: text from a_rather_long_prompt_name
field u: text from second
prompt a_rather_long_prompt_name { user = "Write about {c}." }
prompt second { user = "Answer {t} for {c}." }
"""


@pytest.mark.parametrize("width", [80, 200])
def test_plan_tables_fit_the_terminal_and_keep_model_rows_per_call_and_cost(tmp_path, width):
    from synthc.plan import build_plan
    from synthc.render.plan import render as render_plan
    from synthc.profiles import profile_for

    path = tmp_path / "w.sds"
    path.write_text(PLAN_SPEC)
    plan = build_plan(check_file(path).spec, None, profile_for("gpt-4o-mini"))
    out = io.StringIO()
    render_plan(plan, Console(file=out, width=width, highlight=False))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    p = plan.prompts[0]
    calls_line = next(line for line in text.splitlines() if line.startswith("│ a_rather_long_prompt_name")
                      and p.model in line)
    cells = [c.strip() for c in calls_line.split("│")]
    assert p.model in cells and str(p.rows_per_call) in cells and f"${p.cost_est_usd:,.4f}" in cells
    assert ("Tokens (round 1)" in text) == (width == 80)  # folded only when it does not fit
