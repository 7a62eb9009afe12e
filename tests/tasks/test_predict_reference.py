"""`plan --emit-batch` emits exactly calls the build makes, also when cached answers repeat complete mode's real
rows: the build repairs `unique(...)` (against the kept real rows too) only after a round's last stage, so round
1's calls, which the plan replays, do not depend on the repair; its rejections are topped up in round 2, which
no prediction covers (generate/predict.py). Against the loopback fake."""

from __future__ import annotations

import json
from pathlib import Path

from fake_openai import given_text
from project_env import project_env
from synthc.cli import main

REAL = [{"section": "a", "package": "realpkg", "description": "a real package"},
        {"section": "a", "package": "otherpkg", "description": "another real package"},
        {"section": "b", "package": "thirdpkg", "description": "a third real package"}]

SPEC = """dataset tools {
  rows = 12
  seed = 5
}

field section: category ["a", "b"]
field package: text from name_it
field synopsis: text from describe

prompt name_it {
  user = "Name a new package for section {section}."
}

prompt describe {
  user = "DESCRIBE_TEXT {package}."
}

reference real from "real.jsonl" {
  section -> section
  package -> package
  description -> synopsis
  complete = true
}

constraint new_names: unique(package)
"""


def write_spec(root: Path, describe: str) -> Path:
    spec = root / "tools.sds"
    spec.write_text(SPEC.replace("DESCRIBE_TEXT", describe), encoding="utf-8")
    return spec


def build(spec: Path, fake) -> int:
    return main(["build", str(spec), "--endpoint", fake.base_url, "--model", "gpt-4o-mini", "--out",
                 str(spec.parent / "out")])


def describe_asks(bodies) -> list[str]:
    return [b["messages"][-1]["content"] for b in bodies
            if b["response_format"]["json_schema"]["name"] == "describe_rows"]


def test_emitted_batch_leaves_out_rows_whose_cached_answer_repeats_a_real_row(tmp_path, monkeypatch, fake):
    root = project_env(tmp_path, monkeypatch)
    (root / "real.jsonl").write_text("".join(json.dumps(r) + "\n" for r in REAL), encoding="utf-8")
    spec = write_spec(root, "Describe")
    fake.push(given_text("package", "realpkg"))  # round 1's first call names every row after a real package
    assert build(spec, fake) == 0
    out = [json.loads(x) for x in (root / "out" / "tools.jsonl").read_text().splitlines()]
    assert [r["package"] for r in out].count("realpkg") == 1  # the real row only: the copies were rejected

    # A new describe text: describe is asked again, name_it's answers come from the cache (copies included).
    spec = write_spec(root, "Write the one-line synopsis of")
    batch = root / "batch.jsonl"
    assert main(["plan", str(spec), "--endpoint", fake.base_url, "--model", "gpt-4o-mini",
                 "--emit-batch", str(batch)]) == 0
    emitted = describe_asks(json.loads(x)["body"] for x in batch.read_text().splitlines())
    assert any("realpkg" in ask for ask in emitted)  # round 1 describes the copies before the repair runs

    before = len(fake.chat_requests)
    assert build(spec, fake) == 0
    asked = describe_asks(r.body for r in fake.chat_requests[before:])
    # the build's first describe calls are the emitted ones (chunks run concurrently, so not in the same order)
    assert sorted(emitted) == sorted(asked[: len(emitted)])
    out = [json.loads(x) for x in (root / "out" / "tools.jsonl").read_text().splitlines()]
    assert [r["package"] for r in out].count("realpkg") == 1
