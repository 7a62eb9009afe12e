"""Models that misbehave, end to end through the CLI against the loopback fake over real HTTP: a build never
spends far beyond its plan (issue 9). For each behaviour: the calls stay within 1.5x the plan's, the exit code
follows the contract, and the message (and `--json`'s `stopped`) names the reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, Misbehaviour, empty
from project_env import project_env
from synthc.cli import main

ROOT = Path(__file__).resolve().parents[2]

SPEC = """dataset notes {
  rows = 120
  seed = 5
  model = "gpt-4o-mini"
}

field topic: category ~ {
  "a": 50%
  "b": 30%
  "c": 20%
}
field tone: category ~ {
  "dry": 40%
  "warm": 60%
}
field note: text from write { words = 2..6 }

prompt write {
  user = "Write a {tone} note about {topic}."
  rows_per_call = 10
}

constraint short: word_count(note) <= 6
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    return project_env(tmp_path, monkeypatch, key="sk-test-misbehave", timeout="2")


def spec_file(root: Path, text: str = SPEC, name: str = "notes.sds") -> Path:
    p = root / name
    p.write_text(text, encoding="utf-8")
    return p


def example(root: Path, rel: str, rows: int | None = None) -> Path:
    """A copy of a bundled example in the test's project (its lock and cache stay there)."""
    src = ROOT / "examples" / rel
    dst = root / src.name
    shutil.copy(src, dst)
    for extra in src.parent.glob("*.sds"):  # modules it imports
        if extra != src:
            shutil.copy(extra, root / extra.name)
    if rows is not None:
        text = dst.read_text(encoding="utf-8")
        head, _, tail = text.partition("rows = ")
        dst.write_text(head + f"rows = {rows}" + tail[tail.index("\n"):], encoding="utf-8")
    return dst


def planned(spec: Path, capsys, *flags: str) -> dict:
    capsys.readouterr()
    assert main(["plan", str(spec), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def build(spec: Path, fake: FakeOpenAI, capsys, *flags: str) -> tuple[int, str, dict]:
    """(exit code, stderr, the --json object)."""
    capsys.readouterr()
    code = main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(spec.parent / "out"), "--json",
                 *flags])
    got = capsys.readouterr()
    return code, got.err, json.loads(got.out) if got.out.strip() else {}


def test_answers_that_never_meet_a_constraint_stop_after_round_one(env, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys)
    with FakeOpenAI(misbehave=Misbehaviour(constant=(("note", "far too many words in this note"),))) as fake:
        code, err, out = build(spec, fake, capsys)
        calls = fake.calls
    assert code == 3
    assert calls <= 1.5 * plan["calls"]
    assert "prompt write" in err and "below the 25% floor" in err and "short" in err and "--min-yield" in err
    stopped = out["stopped"]
    assert stopped["reason"] == "yield" and stopped["prompt"] == "write" and stopped["rows_accepted"] == 0
    assert stopped["rejected"]["short"]["count"] == stopped["rows_asked"]
    assert stopped["rejected"]["short"]["examples"][0]["values"] == {"note": "far too many words in this note"}
    # neither the dataset nor the lock is written (only the cache and the partial result: none of its rows passed)
    assert not (env / "out" / "notes.jsonl").exists() and not (env / "notes.sds.lock").exists()
    assert (env / "out" / "notes.partial.jsonl").read_text() == ""
    assert any((env / "cache").rglob("*.json"))


def test_the_breaker_can_be_turned_down_on_purpose_and_the_ceiling_still_holds(env, capsys):
    spec = spec_file(env, SPEC.replace("word_count(note) <= 6", "word_count(note) <= 2"))  # ~1 in 5 rows pass
    plan = planned(spec, capsys)
    assert plan["max_calls"] == 3 * plan["calls"] + 10
    with FakeOpenAI() as fake:
        code, err, out = build(spec, fake, capsys, "--min-yield", "0")
        calls = fake.calls
    assert code == 3 and out["stopped"]["reason"] == "ceiling"
    assert calls <= plan["max_calls"] and out["stopped"]["max_calls"] == plan["max_calls"]
    assert "ceiling" in err and "--max-calls" in err


def test_invented_ids_with_the_right_count_still_build(env, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys)
    with FakeOpenAI(misbehave=Misbehaviour(invent_ids=True)) as fake:
        code, err, report = build(spec, fake, capsys)
        calls = fake.calls
    assert code == 0, err
    assert calls <= 1.5 * plan["calls"]
    assert report["rows"] == 120 and report["rows_matched_by_position"] > 0
    assert report["max_calls"] == plan["max_calls"]


def test_rows_in_another_order_keep_their_own_values(env, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys)
    with FakeOpenAI(misbehave=Misbehaviour(reorder=True)) as fake:
        code, err, report = build(spec, fake, capsys)
        calls = fake.calls
    assert code == 0, err
    assert calls == plan["calls"]  # every row found its own id: nothing to top up
    assert report["rows_matched_by_position"] == 0


def test_fewer_rows_than_asked_are_topped_up_within_bounds(env, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys)
    with FakeOpenAI(misbehave=Misbehaviour(fewer=2)) as fake:
        code, err, report = build(spec, fake, capsys)
        calls = fake.calls
    assert code == 0, err
    assert calls <= 1.5 * plan["calls"]
    assert report["rejected"]["schema"]["kinds"]["missing"] > 0


def test_a_run_of_empty_answers_stops_and_says_so(env, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys)
    with FakeOpenAI() as fake:
        fake.push(*[empty()] * 200)
        code, err, out = build(spec, fake, capsys)
        calls = fake.calls
    assert code == 3 and calls <= 1.5 * plan["calls"]
    assert out["stopped"]["reason"] == "yield" and list(out["stopped"]["rejected"]) == ["empty"]
    assert "empty" in err and "help:" in err


@pytest.mark.parametrize("rel", ["instructions/sql_tutor.sds", "support_tickets/tickets.sds"])
def test_the_bundled_examples_stop_by_themselves_when_every_row_fails(env, capsys, rel):
    """The fake writes a few random words per text field: the SQL tutor's answers never look like SQL, and the
    tickets' e-mails are never 20 words long. Before the breaker these asked 4,737 and 23,675 calls in round 2."""
    spec = example(env, rel)
    plan = planned(spec, capsys, "--endpoint", "http://127.0.0.1:9/v1")
    with FakeOpenAI() as fake:
        code, err, out = build(spec, fake, capsys, "--concurrency", "8")
        calls = fake.calls
    assert code == 3 and calls <= 1.5 * plan["calls"]
    assert out["stopped"]["reason"] == "yield" and out["stopped"]["advice"]


def test_a_spec_naming_no_model_is_sized_by_the_model_the_user_names(env, capsys):
    spec = example(env, "product_reviews/reviews.sds", rows=1000)
    text = spec.read_text(encoding="utf-8")  # the fake writes 2-6 words: no "long" review could pass
    spec.write_text("\n".join(l for l in text.splitlines() if not l.startswith("constraint long_is_long")) + "\n")
    embedded = planned(spec, capsys)
    named = planned(spec, capsys, "--model", "gpt-4o-mini")
    assert embedded["model"] == "embedded" and embedded["rows_per_call"] == 1
    assert named["model"] == "gpt-4o-mini" and named["rows_per_call"] == 25 and named["calls"] < embedded["calls"] / 10
    with FakeOpenAI(misbehave=Misbehaviour(invent_ids=True)) as fake:
        code, err, out = build(spec, fake, capsys, "--model", "gpt-4o-mini", "--concurrency", "8")
        calls = fake.calls
        first = fake.chat_requests[0].body
    assert first["model"] == "gpt-4o-mini"
    assert calls <= 1.5 * named["calls"], err
    assert code in (0, 1), err  # the dataset is written (1: a dataset check the fake's random words miss)
    assert out["rows"] == 1000 and out["rows_matched_by_position"] > 0 and out["profile"] == "gpt-4o-mini"
    assert "unmatched_ids" not in json.dumps(out["rejected"])
    lock = json.loads((env / "reviews.sds.lock").read_text())
    assert lock["profile"] == "gpt-4o-mini"
