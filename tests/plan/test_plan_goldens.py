"""Plan goldens as data: each specs/plan/NAME.sds is planned as `synthc plan NAME.sds --json` plans it, and the
JSON must equal specs/plan/NAME.plan.json (quotas per stratum, spares, calls, packing, tokens, cost, the call
ceiling). A new case is a spec file; `--update-goldens` writes its golden (review the diff before committing)."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from synthc.cli import main

PLANS = Path(__file__).resolve().parents[2] / "specs" / "plan"
CASES = sorted(PLANS.glob("*.sds"))


def test_the_plan_corpus_is_not_empty():
    assert len(CASES) >= 4


@pytest.mark.parametrize("spec", CASES, ids=[p.stem for p in CASES])
def test_plan_matches_its_golden(spec, capsys, monkeypatch, request):
    monkeypatch.chdir(PLANS)
    monkeypatch.setenv("SYNTHC_CACHE", str(PLANS / ".no-cache"))  # none: the plan alone, no this_build
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert main(["plan", spec.name, "--json"]) == 0
    got = json.dumps(json.loads(capsys.readouterr().out), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    golden = spec.with_suffix(".plan.json")
    if request.config.getoption("--update-goldens"):
        golden.write_text(got, encoding="utf-8")
    want = golden.read_text(encoding="utf-8") if golden.exists() else ""
    assert got == want, "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now"))
