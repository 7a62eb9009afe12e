"""The Python API (docs/API.md) called directly: diagnostics as objects, the plan's figures, validate and diff
as the CLI's --json says them, the errors it raises, and a package import that stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import synthc
from project_env import project_env
from synthc import api
from synthc.cli import main

SPEC = """dataset tickets {
  rows = 40
  seed = 7
  model = "gpt-4o-mini"
}

field team: category ~ { "billing": 50%  "login": 50% }
field urgent: bool ~ { true: 25%  false: 75% }

constraint urgent_billing: urgent == true => team == "billing"
"""
TYPO = SPEC.replace('team == "billing"', 'team == "biling"')


@pytest.fixture
def env(tmp_path, monkeypatch):
    project_env(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(env, text: str, name: str = "tickets.sds"):
    (env / name).write_text(text, encoding="utf-8")
    return env / name


def cli_json(capsys, *args) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(list(args))
    return code, json.loads(capsys.readouterr().out)


def test_check_gives_diagnostics_as_objects_with_their_source(env, capsys):
    checked = api.check(write(env, TYPO))
    assert not checked.ok and checked.spec is None
    [d] = checked.diagnostics.errors
    assert (d.code, d.span.line, d.span.col) == ("SDS011", 10, 54)
    assert d.hint == "did you mean `billing`?"
    text = str(checked.diagnostics)
    assert 'error[SDS011]: "biling" is not a value of `team`' in text and "^^^^^^^^" in text
    code, cli = cli_json(capsys, "check", str(env / "tickets.sds"), "--format", "json")
    assert code == 2 and cli["diagnostics"] == checked.diagnostics.as_json()
    assert "&quot;biling&quot;" in checked.diagnostics._repr_html_()
    good = api.check(write(env, SPEC))
    assert good.ok and good.spec.dataset.name == "tickets" and len(good.diagnostics) == 0


def test_plan_figures_are_what_plan_json_prints(env, capsys):
    spec = write(env, SPEC)
    plan = api.plan(spec)
    code, cli = cli_json(capsys, "plan", str(spec), "--json")
    assert code == 0 and plan.figures == cli
    assert plan.figures["rows"] == 40 and plan.plan.rows == 40
    html = plan._repr_html_()
    assert "<table>" in html and "planned rows" in html and ">20<" in html  # billing: 20 planned rows


def test_spec_errors_raise_spec_error_with_the_diagnostics(env):
    spec = write(env, TYPO)
    for call in (lambda: api.plan(spec), lambda: api.build(spec), lambda: api.validate(spec, "x.jsonl")):
        with pytest.raises(api.SpecError) as got:
            call()
        assert [d.code for d in got.value.diagnostics] == ["SDS011"]
        assert "tickets.sds:10:54" in str(got.value)


def test_usage_errors_are_the_cli_exit_2_messages(env):
    spec = write(env, SPEC)
    with pytest.raises(api.UsageError, match="max_calls must be a whole number"):
        api.build(spec, max_calls=0)
    with pytest.raises(api.UsageError, match="between 0 and 1"):
        api.build(spec, min_yield=1.5)
    with pytest.raises(api.UsageError, match="no such file"):
        api.validate(spec, env / "missing.jsonl")
    with pytest.raises(api.UsageError, match="OLD.sds NEW.sds"):
        api.diff(spec)


def test_validate_gives_the_figures_of_validate_json(env, capsys):
    spec = write(env, SPEC)
    rows = [{"_id": f"r{i}", "team": "billing" if i % 2 else "login", "urgent": i % 4 == 1} for i in range(40)]
    data = env / "t.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    got = api.validate(spec, data)
    code, cli = cli_json(capsys, "validate", str(spec), str(data), "--json")
    assert got.passed and code == 0 and got.figures == cli
    rows[0]["urgent"] = True  # row 0 is a login ticket: urgent ones must be billing
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    failed = api.validate(spec, data)
    assert not failed.passed
    assert {c["name"]: c["violations"] for c in failed.figures["checks"]}["urgent_billing"] == 1


def test_diff_of_two_files_is_the_cli_diff(env, capsys):
    old = write(env, SPEC, "old.sds")
    new = write(env, SPEC.replace('"billing": 50%  "login": 50%', '"billing": 60%  "login": 40%'), "new.sds")
    d = api.diff(old, new)
    code, cli = cli_json(capsys, "diff", str(old), str(new), "--json")
    assert d.ok and d.changed and d.figures == cli
    capsys.readouterr()
    main(["diff", str(old), str(new), "--markdown"])
    assert d.markdown == capsys.readouterr().out
    assert not api.diff(old, old).changed


def test_importing_synthc_loads_neither_the_api_nor_scikit_learn():
    # `synthc check` and `synthc fmt` start by importing the package: the API's passes and checks load on first use
    probe = ("import sys, synthc; print('synthc.api' in sys.modules, 'sklearn' in sys.modules); "
             "synthc.build; print('synthc.api' in sys.modules)")
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert got.stdout.split() == ["False", "False", "True"], got.stderr
    assert synthc.build is api.build and synthc.SpecError is api.SpecError and synthc.Result is api.Result


def test_pandas_and_datasets_are_imported_only_when_asked():
    # the API loads neither (they are installed here); without them, to_pandas/to_dataset say which extra to install
    loaded = subprocess.run([sys.executable, "-c", "import sys; from synthc import api; "
                             "print([m for m in ('pandas', 'datasets') if m in sys.modules])"],
                            capture_output=True, text=True, timeout=120)
    assert loaded.stdout.strip() == "[]", loaded.stderr
    probe = ("import sys\nsys.modules['pandas'] = None\nsys.modules['datasets'] = None\n"
             "from synthc import api\n"
             "for call in (api.Result(0, None).to_pandas, api.Result(0, None).to_dataset):\n"
             "    try:\n        call()\n    except api.UsageError as e:\n        print(e)\n")
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert got.stdout.splitlines() == ["this needs the package `pandas`: pip install 'synthc[notebook]'",
                                       "this needs the package `datasets`: pip install 'synthc[notebook]'"], got.stderr
