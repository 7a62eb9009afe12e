"""A build whose row constraints read object members and list membership: the fake server's answers are judged
by them (DuckDB, per batch and at the end), and the type checks run on the output."""

from __future__ import annotations

import json

from fake_openai import FakeOpenAI
from project_env import project_env
from synthc.cli import main

SPEC = """dataset triage { rows = 8 seed = 3 model = "gpt-4o-mini" }
field complaint: category ["chest", "head"]
field assessment: object {
  severity: enum ["low", "high"]
  vitals: object { pulse: int in 30..220 }
} from p
field symptoms: list[enum ["chest pain", "fever"]] from p
prompt p { user = "Triage a patient with {complaint} pain." }
constraint sev: assessment.severity in ["low", "high"]
constraint pulse_ok: assessment.vitals.pulse in 30..220
constraint listed: "fever" in symptoms or "chest pain" in symptoms or length(symptoms) == 0
"""


def test_member_and_membership_constraints_judge_a_build(tmp_path, monkeypatch):
    project_env(tmp_path, monkeypatch, key="test")
    spec = tmp_path / "t.sds"
    spec.write_text(SPEC)
    with FakeOpenAI() as fake:
        assert main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    checks = {c["name"]: c for c in report["checks"]}
    for name in ("sev", "pulse_ok", "listed", "type:assessment", "type:symptoms"):
        assert checks[name]["passed"] and checks[name]["violations"] == 0, checks[name]  # ran, and held
    rows = [json.loads(line) for line in (tmp_path / "out" / "triage.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["assessment"]["severity"] in ("low", "high") for r in rows)
