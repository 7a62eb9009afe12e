"""Golden tests over the conformance corpus in specs/ (see specs/README.md for the layout and the rules).

`pytest tests/check/test_corpus.py --update-goldens` rewrites the goldens from the current output.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest

from synthc.cli import main
from synthc.diagnostics import CODES

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
# Codes the corpus cannot show, and why; every other code in CODES must appear in some golden.
NOT_IN_CORPUS = {
    "SDS029": "infeasible targets are found by the planner (`synthc plan`), not by `check`",
    "SDS030": "too many strata are found by the planner (`synthc plan`), not by `check`",
}


def _cases(kind: str) -> list[Path]:
    root = SPECS / kind
    top = sorted(root.glob("*.sds"))
    nested = sorted(p for p in root.rglob("main.sds") if p.parent != root)
    return top + nested


VALID = _cases("valid")
INVALID = _cases("invalid")


def _id(path: Path) -> str:
    return path.relative_to(SPECS).with_suffix("").as_posix()


@pytest.fixture
def in_repo(monkeypatch):
    """Run the CLI from the repository root with plain (uncoloured) diagnostics, as on a pipe."""
    monkeypatch.chdir(REPO)
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def update(request) -> bool:
    return request.config.getoption("--update-goldens")


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _compare(golden: Path, actual: str, update: bool) -> None:
    """Compare with the golden file (or rewrite it under --update-goldens), failing with a unified diff."""
    if update:
        golden.write_text(actual, encoding="utf-8")
        return
    if not golden.exists():
        pytest.fail(f"no golden {golden.relative_to(REPO)}; create it with --update-goldens and review it")
    expected = golden.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                    fromfile=f"{golden.relative_to(REPO)} (golden)", tofile="actual output")
        pytest.fail("output differs from the golden (rerun with --update-goldens if the change is intended):\n"
                    + "".join(diff), pytrace=False)


@pytest.mark.parametrize("spec", VALID, ids=_id)
def test_valid_spec_checks_to_its_golden_ir(spec: Path, capsys, in_repo, update):
    rel = spec.relative_to(REPO).as_posix()
    code, out, err = _run(capsys, ["check", rel, "--ir"])
    assert code == 0, f"{rel} should check (exit 0), got exit {code}:\n{err}"
    _compare(spec.with_suffix(".ir.json"), out, update)
    warnings = spec.with_suffix(".expected")
    if err or warnings.exists():
        if update and not err:
            warnings.unlink()
        else:
            _compare(warnings, err, update)


@pytest.mark.parametrize("spec", INVALID, ids=_id)
def test_invalid_spec_reports_its_golden_diagnostics(spec: Path, capsys, in_repo, update):
    rel = spec.relative_to(REPO).as_posix()
    code, out, err = _run(capsys, ["check", rel])
    assert code == 2, f"{rel} should fail with exit 2, got exit {code}:\n{err}"
    assert out == "", "diagnostics go to stderr; stdout stays empty"
    _compare(spec.with_suffix(".expected"), err, update)


_HEAD = re.compile(r"^(error|warning)\[(SDS\d{3})\]: .*\n  --> (.+):(\d+):(\d+)$", re.M)


@pytest.mark.parametrize("spec", INVALID, ids=_id)
def test_json_diagnostics_agree_with_the_plain_golden(spec: Path, capsys, in_repo):
    """--format json reports the same severities, codes and positions as the plain rendering, in order."""
    rel = spec.relative_to(REPO).as_posix()
    code, out, _ = _run(capsys, ["check", rel, "--format", "json"])
    assert code == 2
    from_json = [(d["severity"], d["code"], d["file"], d["line"], d["col"])
                 for d in json.loads(out)["diagnostics"]]
    golden = spec.with_suffix(".expected").read_text(encoding="utf-8")
    from_plain = [(sev, c, f, int(line), int(col)) for sev, c, f, line, col in _HEAD.findall(golden)]
    assert from_json == from_plain


def test_corpus_is_big_enough():
    assert len(VALID) + len(INVALID) >= 40
    assert len(INVALID) >= 20


def test_every_golden_belongs_to_a_case():
    """A golden left behind by a renamed or deleted case would never be compared: there must be none."""
    entries = {p.with_suffix("") for p in VALID + INVALID}
    goldens = [p for pat in ("*.ir.json", "*.expected") for p in SPECS.rglob(pat)]
    orphans = [g.relative_to(REPO).as_posix() for g in goldens
               if Path(str(g).removesuffix(".ir.json").removesuffix(".expected")) not in entries]
    assert orphans == []


def test_invalid_cases_have_no_ir_golden():
    assert [p for p in (SPECS / "invalid").rglob("*.ir.json")] == []


def test_every_code_appears_in_some_golden():
    seen = set()
    for golden in SPECS.rglob("*.expected"):
        seen |= set(re.findall(r"^(?:error|warning)\[(SDS\d{3})\]", golden.read_text(encoding="utf-8"), re.M))
    missing = sorted(set(CODES) - seen - set(NOT_IN_CORPUS))
    assert missing == [], f"add a case to specs/ for: {', '.join(missing)}"
    assert set(NOT_IN_CORPUS) <= set(CODES)
