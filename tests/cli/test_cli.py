"""The CLI contract: exit codes, output channels and formats, for check and explain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from synthc.cli import main

GOOD = """dataset d {
  rows = 10
}

field s: category ~ {
  "a": 50%
  "b": 50%
}
field n: int in 1..5
constraint c: s == "a" => n <= 3
"""


def _write(tmp_path: Path, text: str, name: str = "spec.sds") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_check_ok_exits_0(tmp_path, capsys):
    assert main(["check", str(_write(tmp_path, GOOD))]) == 0
    assert "ok: 1 spec checked" in capsys.readouterr().err


def test_every_error_is_reported_in_one_run(tmp_path, capsys):
    bad = GOOD.replace('"b": 50%', '"b": 40%').replace('s == "a"', 's == "c"') + "constraint x: nn > 1\n"
    assert main(["check", str(_write(tmp_path, bad))]) == 2
    err = capsys.readouterr().err
    for code in ("SDS013", "SDS010"):
        assert f"error[{code}]" in err
    assert "did you mean `n`?" in err


def test_json_diagnostics_carry_position_code_and_hint(tmp_path, capsys):
    path = _write(tmp_path, GOOD.replace('s == "a"', 's == "aa"'))
    assert main(["check", str(path), "--format", "json"]) == 2
    out = json.loads(capsys.readouterr().out)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["col"], d["severity"]) == ("SDS011", 10, 20, "error")
    assert d["hint"] == "did you mean `a`?"


def test_ir_is_byte_identical_whatever_the_path_or_directory(tmp_path, capsys, monkeypatch):
    path = _write(tmp_path, GOOD)
    assert main(["check", str(path), "--ir"]) == 0
    absolute = capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["check", "spec.sds", "--ir"]) == 0
    relative = capsys.readouterr().out
    assert absolute == relative
    assert json.loads(absolute)["dataset"]["rows"] == 10


def test_strict_turns_warnings_into_exit_1(tmp_path):
    spec = _write(tmp_path, GOOD + "constraint always: n >= 1\n")  # SDS103: holds for every n in 1..5
    assert main(["check", str(spec)]) == 0
    assert main(["check", str(spec), "--strict"]) == 1


def test_bad_usage_exits_2(capsys):
    assert _exit(["check"]) == 2
    assert _exit(["no-such-command"]) == 2


def _exit(argv) -> int:
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def test_explain_known_and_unknown_codes(capsys):
    assert main(["explain", "sds013"]) == 0
    assert "add up to exactly 100%" in capsys.readouterr().out
    assert main(["explain", "SDS999"]) == 2


def test_every_code_has_an_explanation():
    from synthc.codes import EXPLANATIONS
    from synthc.diagnostics import CODES

    assert set(CODES) == set(EXPLANATIONS)


def test_console_script_runs_without_traceback(tmp_path):
    """The installed entry point, in a real process, on a file that is not UTF-8."""
    bad = tmp_path / "latin1.sds"
    bad.write_bytes("dataset caf\xe9 { rows = 1 }".encode("latin-1"))
    proc = subprocess.run([sys.executable, "-m", "synthc", "check", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "error[SDS003]" in proc.stderr and "Traceback" not in proc.stderr


def test_plan_reports_infeasible_targets_at_the_field_with_the_constraint_noted(tmp_path, capsys):
    spec = _write(tmp_path, 'dataset d { rows = 90 }\nfield mood: category ~ {"a": 1/3, "b": 1/3, "c": 1/3}\n'
                            'constraint no_c: mood != "c"\n')
    assert main(["plan", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "error[SDS029]" in err and f"{spec}:2:7" in err
    assert "`no_c` is declared here" in err and "c 33.3% -> 0.0%" in err


def test_plan_json_contract_keys(tmp_path, capsys):
    assert main(["plan", str(_write(tmp_path, GOOD)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("dataset", "rows", "seed", "calls", "lower_bound_calls", "rows_per_call", "prompt_tokens_est",
                "completion_tokens_est", "cost_est_usd", "strata", "marginals"):
        assert key in out
    assert sum(s["rows"] for s in out["strata"]) == 10
    assert {v: c["planned_rows"] for v, c in out["marginals"]["s"].items()} == {"a": 5, "b": 5}
