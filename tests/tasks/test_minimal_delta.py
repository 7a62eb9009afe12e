"""Minimal-delta rebuilds, end to end: a spec in a temporary git repository, built through the CLI against the
loopback fake OpenAI server, then changed the ways a pull request changes it. For each change: what
`synthc diff --base HEAD` reports, the calls the rebuild makes (counted by the fake server) against the
fewest that change needs, and that every row the change did not touch is byte-identical in the dataset.

The fewest calls are computed from the two plans (`synthc plan --json`, which plans as the build does): the
rows a stratum asks for beyond those an earlier build answered, packed k to a call.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from diff_support import git

from synthc.cli import main

SPEC = """dataset notes {
  rows = 40
  seed = 5
  model = "gpt-4o-mini"
}

field topic: category ~ {
  "rain": 50%
  "sun": 30%
  "snow": 20%
}
field tone: category ~ {
  "dry": 25%
  "warm": 75%
}
field n: int in 1..3
field note: text from write { words = 2..6 }
field mood: enum ["calm", "busy"] from write
field tag: text from label { words = 1..3 }

prompt write {
  user = "Write a {tone} note about {topic} number {n}."
  rows_per_call = 4
}

prompt label {
  user = "Give a short tag for {topic}."
  rows_per_call = 4
}

constraint fits: word_count(note) <= 6
"""

K = 4


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository holding the spec, built once and committed (spec and lock)."""
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHC_RETRY_BASE", "0.001")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "synthc.toml").write_text("")
    (root / ".gitignore").write_text("build/\n")
    (root / "notes.sds").write_text(SPEC, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    return root


def build(root: Path, fake: FakeOpenAI) -> int:
    before = fake.calls
    code = main(["build", str(root / "notes.sds"), "--endpoint", fake.base_url, "--out", str(root / "build"),
                 "--concurrency", "4"])
    assert code == 0
    return fake.calls - before


def plan_json(root: Path, capsys, fake: FakeOpenAI) -> dict:
    capsys.readouterr()
    assert main(["plan", str(root / "notes.sds"), "--json", "--endpoint", fake.base_url]) == 0
    return json.loads(capsys.readouterr().out)


def diff_json(root: Path, capsys, fake: FakeOpenAI) -> dict:
    capsys.readouterr()
    main(["diff", str(root / "notes.sds"), "--base", "HEAD", "--json", "--endpoint", fake.base_url])
    return json.loads(capsys.readouterr().out)


def dataset(root: Path) -> dict[str, str]:
    """Row id -> the row's canonical JSONL line."""
    lines = (root / "build" / "notes.jsonl").read_text(encoding="utf-8").splitlines()
    return {json.loads(line)["_id"]: line for line in lines}


def first_build(repo: Path, fake: FakeOpenAI, capsys):
    plan = plan_json(repo, capsys, fake)
    made = build(repo, fake)
    assert made == plan["calls"]  # no rejection with the fake: round 1 is the whole build
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first build")
    return plan, dataset(repo)


def requested(plan: dict) -> dict[str, int]:
    return {s["key"]: s["rows"] + s["spare"] for s in plan["strata"]}


def fewest_calls(old: dict, new: dict, prompts: int) -> int:
    """Rows each stratum now asks for beyond the indices the old build answered, k to a call, per prompt."""
    was = requested(old)
    fresh = sum(max(0, n - was.get(key, 0)) for key, n in requested(new).items())
    return prompts * math.ceil(fresh / K)


def edit(repo: Path, old: str, new: str) -> None:
    path = repo / "notes.sds"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_share_change_makes_only_the_rows_growing_strata_lack(repo, fake, capsys):
    old_plan, old_rows = first_build(repo, fake, capsys)
    edit(repo, '"dry": 25%\n  "warm": 75%', '"dry": 50%\n  "warm": 50%')
    new_plan = plan_json(repo, capsys, fake)
    want = fewest_calls(old_plan, new_plan, prompts=2)
    assert 0 < want < new_plan["calls"]
    assert "this_build" not in old_plan  # before any build, the plan's calls are the build's
    assert new_plan["this_build"]["calls"] == want  # `synthc plan` says what the edit will cost

    d = diff_json(repo, capsys, fake)
    assert "dry" in json.dumps(d["spec"]["fields"]["changed"])
    assert d["plan"]["calls_new"] == want and d["plan"]["rows_carried"] > 0

    assert build(repo, fake) == want
    report = json.loads((repo / "build" / "report.json").read_text())
    assert report["calls"] == want and report["calls_full_rebuild"] >= new_plan["calls"]
    new_rows = dataset(repo)
    kept = set(old_rows) & set(new_rows)
    was = {s["key"]: s["rows"] for s in old_plan["strata"]}
    assert len(kept) == sum(min(s["rows"], was.get(s["key"], 0)) for s in new_plan["strata"]) > 0
    for rid in kept:
        assert new_rows[rid] == old_rows[rid], rid  # untouched rows: byte-identical


def test_prompt_change_reissues_only_that_prompts_calls(repo, fake, capsys):
    old_plan, old_rows = first_build(repo, fake, capsys)
    edit(repo, "Give a short tag for {topic}.", "Give a one-word tag for {topic}.")
    label_calls = next(p["calls"] for p in plan_json(repo, capsys, fake)["prompts"] if p["prompt"] == "label")
    d = diff_json(repo, capsys, fake)
    assert d["plan"]["calls_new"] == label_calls
    assert build(repo, fake) == label_calls
    new_rows = dataset(repo)
    assert set(new_rows) == set(old_rows)  # the same rows...
    for rid, line in new_rows.items():
        old, new = json.loads(old_rows[rid]), json.loads(line)
        assert {k: v for k, v in old.items() if k != "tag"} == {k: v for k, v in new.items() if k != "tag"}


def test_fewer_rows_make_no_call_and_keep_every_surviving_row(repo, fake, capsys):
    _, old_rows = first_build(repo, fake, capsys)
    edit(repo, "rows = 40", "rows = 30")
    d = diff_json(repo, capsys, fake)
    assert d["plan"]["calls_new"] == 0 and d["plan"]["rows_dropped"] == 10
    assert build(repo, fake) == 0
    new_rows = dataset(repo)
    assert len(new_rows) == 30 and set(new_rows) <= set(old_rows)
    assert all(new_rows[rid] == old_rows[rid] for rid in new_rows)


def test_more_rows_ask_only_for_the_new_ones(repo, fake, capsys):
    old_plan, old_rows = first_build(repo, fake, capsys)
    edit(repo, "rows = 40", "rows = 60")
    new_plan = plan_json(repo, capsys, fake)
    want = fewest_calls(old_plan, new_plan, prompts=2)
    assert diff_json(repo, capsys, fake)["plan"]["calls_new"] == want
    assert build(repo, fake) == want
    new_rows = dataset(repo)
    assert set(old_rows) <= set(new_rows)
    assert all(new_rows[rid] == old_rows[rid] for rid in old_rows)


def test_a_field_no_prompt_reads_makes_no_call(repo, fake, capsys):
    _, old_rows = first_build(repo, fake, capsys)
    edit(repo, "field n: int in 1..3", 'field n: int in 1..3\nfield split: category ~ {"train": 80%, "test": 20%}')
    d = diff_json(repo, capsys, fake)
    assert [f["name"] for f in d["spec"]["fields"]["added"]] == ["split"]
    assert d["plan"]["calls_new"] == 0 and d["plan"]["rows_dropped"] == 0 and d["plan"]["rows_added"] == 0
    assert build(repo, fake) == 0
    new_rows = dataset(repo)
    assert set(new_rows) == set(old_rows)
    splits = [json.loads(line)["split"] for line in new_rows.values()]
    assert splits.count("train") == 32 and splits.count("test") == 8
    for rid, line in new_rows.items():
        row = json.loads(line)
        del row["split"]
        assert row == json.loads(old_rows[rid])


def test_renaming_a_field_the_prompt_reads_regenerates_under_new_ids(repo, fake, capsys):
    """Row ids hash the generation fields by name, and a many-row request lists its rows' ids: a rename is a
    new request for every row. The diff names it as a rename, and the rebuild makes a full build's calls."""
    first_build(repo, fake, capsys)
    edit(repo, "field tone:", "field voice:")
    edit(repo, "Write a {tone} note", "Write a {voice} note")
    new_plan = plan_json(repo, capsys, fake)
    d = diff_json(repo, capsys, fake)
    assert d["spec"]["fields"]["renamed"] == [{"old": "tone", "new": "voice"}]
    assert d["plan"]["calls_new"] == new_plan["calls"]
    assert build(repo, fake) == new_plan["calls"]


def test_unchanged_rebuild_after_a_change_makes_no_call(repo, fake, capsys):
    """A change's rebuild stores its new rows: building it again is free and byte-identical."""
    first_build(repo, fake, capsys)
    edit(repo, "rows = 40", "rows = 52")
    assert build(repo, fake) > 0
    data = (repo / "build" / "notes.jsonl").read_bytes()
    assert build(repo, fake) == 0
    assert (repo / "build" / "notes.jsonl").read_bytes() == data


def test_a_batch_after_an_edit_holds_only_the_new_calls(repo, fake, capsys):
    """`plan --emit-batch` writes the calls the build will make (rows the store answers are left out), and
    `ingest` of their answers leaves the build nothing to call."""
    old_plan, _ = first_build(repo, fake, capsys)
    edit(repo, '"dry": 25%\n  "warm": 75%', '"dry": 50%\n  "warm": 50%')
    want = fewest_calls(old_plan, plan_json(repo, capsys, fake), prompts=2)
    batch = repo / "batch.jsonl"
    assert main(["plan", str(repo / "notes.sds"), "--endpoint", fake.base_url, "--emit-batch", str(batch)]) == 0
    requests = [json.loads(line) for line in batch.read_text().splitlines()]
    assert len(requests) == want
    results = repo / "results.jsonl"
    with results.open("w", encoding="utf-8") as out:
        for req in requests:
            status, _, body = fake.answer(req["body"])
            out.write(json.dumps({"custom_id": req["custom_id"], "response": {"status_code": status, "body": body},
                                  "error": None}) + "\n")
    before = fake.calls
    assert main(["ingest", str(repo / "notes.sds"), str(results), "--endpoint", fake.base_url, "--out",
                 str(repo / "build")]) == 0
    assert fake.calls == before  # every call the build needed was in the batch
