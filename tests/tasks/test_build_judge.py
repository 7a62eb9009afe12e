"""Judges end to end through the CLI against the loopback fake (docs/BUILD.md, "Judges"): "no" answers are
rejected and topped up, plan / diff / emit-batch count the judge calls the build makes, a judge answering garbage
stops within the plan's bounds, a judge's own model is the one asked, and a rebuild asks the judge nothing; and
the issue's test: planted near-copies, a length shortcut and judge "no" answers, each caught as specified."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, JudgeBehaviour, Misbehaviour, given_text, judge_name
from project_env import project_env
from synthc.cli import main
from synthc.plan.requests import fill

QUESTION = "Is this note about {topic}? Note: {note}"
SPEC = """dataset notes {
  rows = 60
  seed = 5
  model = "gpt-4o-mini"
}

field topic: category ~ {
  "a": 50%
  "b": 50%
}
field note: text from write { words = 2..6 }

prompt write {
  user = "Write a note about {topic}."
  rows_per_call = 10
}

judge on_topic {
  question = "QUESTION"
  rows_per_call = 10
}

constraint short: word_count(note) <= 6
constraint about: on_topic
""".replace("QUESTION", QUESTION)


@pytest.fixture
def env(tmp_path, monkeypatch):
    return project_env(tmp_path, monkeypatch, key="sk-test-judge", timeout="2")


def spec_file(root: Path, text: str = SPEC, name: str = "notes.sds") -> Path:
    p = root / name
    p.write_text(text, encoding="utf-8")
    return p


def planned(spec: Path, capsys, fake: FakeOpenAI, *flags: str) -> dict:
    capsys.readouterr()
    assert main(["plan", str(spec), "--json", "--endpoint", fake.base_url, *flags]) == 0
    return json.loads(capsys.readouterr().out)


def build(spec: Path, fake: FakeOpenAI, capsys, *flags: str) -> tuple[int, str, dict]:
    """(exit code, stderr, the --json object)."""
    capsys.readouterr()
    code = main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(spec.parent / "out"), "--json", *flags])
    got = capsys.readouterr()
    return code, got.err, json.loads(got.out) if got.out.strip() else {}


def said_no(question: str, row: dict, share: float) -> bool:
    """Whether the fake's JudgeBehaviour(no_share=share) answers "no" for `row` (its own rule: a hash of the
    question filled with the row's values)."""
    return int(hashlib.sha256(fill(question, row).encode()).hexdigest()[:8], 16) < share * 2 ** 32


def emitted(spec: Path, fake: FakeOpenAI, path: Path) -> list[dict]:
    assert main(["plan", str(spec), "--endpoint", fake.base_url, "--emit-batch", str(path)]) == 0
    return [json.loads(line) for line in path.read_text().splitlines()]


def answered(fake: FakeOpenAI, requests: list[dict], path: Path) -> Path:
    """Batch API output for `requests`, answered as the fake answers them."""
    with path.open("w", encoding="utf-8") as out:
        for req in requests:
            status, _, body = fake.answer(req["body"])
            out.write(json.dumps({"custom_id": req["custom_id"], "response": {"status_code": status, "body": body},
                                  "error": None}) + "\n")
    return path


def test_rows_the_judge_answers_no_are_rejected_and_topped_up(env, fake, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys, fake)
    fake.judge = JudgeBehaviour(no_share=0.25)
    code, err, out = build(spec, fake, capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in (env / "out" / "notes.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and "on_topic" not in rows[0]  # the verdict is no column of the dataset
    assert not any(said_no(QUESTION, r, 0.25) for r in rows)  # no row the judge said "no" to was kept
    j = out["judges"]["on_topic"]
    assert out["report_version"] >= 3 and j["constraints"] == ["about"] and j["model"] == "gpt-4o-mini"
    no = j["judged"] - j["passed"]
    assert no > 0 and out["rejected"]["about"]["count"] == no
    assert j["pass_rate"] == pytest.approx(j["passed"] / j["judged"], abs=1e-6)
    assert sum(s["judged"] for s in j["by_stratum"]) == j["judged"]
    assert {s["values"]["topic"] for s in j["by_stratum"]} == {"a", "b"}
    assert sum(v["judged"] for v in j["by_value"]["topic"].values()) == j["judged"]
    assert sum(v["passed"] for v in j["by_value"]["topic"].values()) == j["passed"]
    assert out["rounds"] >= 2 and fake.judge_calls > plan["judge_calls"]  # the top-ups were judged too
    assert fake.calls <= plan["max_calls"]
    md = (env / "out" / "report.md").read_text()
    assert "## Judges" in md and "### on_topic by topic" in md
    # validate asks no model: the dataset passes its checks, and no judge constraint is among them
    capsys.readouterr()
    assert main(["validate", str(spec), str(env / "out" / "notes.jsonl"), "--json"]) == 0
    names = {c["name"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert "short" in names and "about" not in names and names == {c["name"] for c in out["checks"]}


def test_plan_diff_and_emit_batch_count_the_judge_calls_a_build_makes(env, fake, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys, fake)
    judge = [p for p in plan["prompts"] if p["judge"]]
    assert plan["plan_version"] >= 2 and [p["prompt"] for p in judge] == ["on_topic"]
    writer = next(p for p in plan["prompts"] if not p["judge"])
    assert plan["judge_calls"] == judge[0]["calls"] == writer["calls"] > 0  # the same rows, 10 per call
    assert plan["calls"] == writer["calls"] + judge[0]["calls"] and judge[0]["after"] == ["write"]
    # before any text is written, a batch holds the writer's calls only: a judge request needs the text
    first = emitted(spec, fake, env / "batch1.jsonl")
    assert len(first) == plan["calls"] - plan["judge_calls"]
    assert not any(judge_name(r["body"]) for r in first)
    code, err, out = build(spec, fake, capsys)
    assert code == 0 and out["rounds"] == 1, err
    assert fake.judge_calls == plan["judge_calls"] and fake.calls == plan["calls"]

    # a new question: the writer's rows are carried, only the judge is asked again
    new = spec_file(env, SPEC.replace("Is this note about {topic}?", "Is this note really about {topic}?"), "new.sds")
    capsys.readouterr()
    assert main(["diff", str(spec), str(new), "--json", "--endpoint", fake.base_url]) == 0
    delta = json.loads(capsys.readouterr().out)["plan"]
    assert delta["calls_new"] == plan["judge_calls"]
    second = emitted(new, fake, env / "batch2.jsonl")
    assert len(second) == plan["judge_calls"] and all(judge_name(r["body"]) == "on_topic" for r in second)
    before, judged_before = fake.calls, fake.judge_calls
    code, err, out = build(new, fake, capsys)
    assert code == 0, err
    assert fake.calls - before == fake.judge_calls - judged_before == delta["calls_new"]


def test_a_batch_build_with_a_judge_takes_two_passes(env, fake, capsys):
    """Batch one holds the writer's calls; `ingest --no-build` stores them; batch two holds the judge's calls;
    `ingest` of its answers then builds with no call left to make."""
    spec = spec_file(env)
    plan = planned(spec, capsys, fake)
    first = emitted(spec, fake, env / "batch1.jsonl")
    assert main(["ingest", str(spec), str(answered(fake, first, env / "results1.jsonl")), "--no-build",
                 "--endpoint", fake.base_url]) == 0
    assert not (env / "out").exists()
    second = emitted(spec, fake, env / "batch2.jsonl")
    assert len(second) == plan["judge_calls"] and all(judge_name(r["body"]) for r in second)
    assert main(["ingest", str(spec), str(answered(fake, second, env / "results2.jsonl")), "--endpoint",
                 fake.base_url, "--out", str(env / "out")]) == 0
    assert fake.calls == 0 and (env / "out" / "notes.jsonl").exists()


def test_a_judge_answering_garbage_stops_the_build_within_its_plan(env, fake, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys, fake)
    fake.judge = JudgeBehaviour(garbage=True)  # "maybe" for every verdict, ids nobody asked for
    code, err, out = build(spec, fake, capsys)
    assert code == 3, err
    assert fake.calls <= 1.5 * plan["calls"]
    stopped = out["stopped"]
    assert stopped["reason"] == "yield" and stopped["prompt"] == "on_topic"
    assert "on_topic" in err and not (env / "out" / "notes.jsonl").exists()


def test_a_judge_with_its_own_model_asks_that_model(env, fake, capsys):
    spec = spec_file(env, SPEC.replace("  rows_per_call = 10\n}\n\nconstraint", '  model = "gpt-4o"\n}\n\nconstraint'))
    plan = planned(spec, capsys, fake)
    judge = next(p for p in plan["prompts"] if p["judge"])
    assert judge["model"] == "gpt-4o" and judge["cost_est_usd"] > 0
    code, err, out = build(spec, fake, capsys)
    assert code == 0, err
    models = {(judge_name(r.body) is not None, r.body["model"]) for r in fake.chat_requests}
    assert models == {(True, "gpt-4o"), (False, "gpt-4o-mini")}
    assert out["judges"]["on_topic"]["model"] == "gpt-4o"


def test_an_unchanged_rebuild_asks_the_judge_nothing(env, fake, capsys):
    spec = spec_file(env)
    fake.judge = JudgeBehaviour(no_share=0.25)
    code, err, first = build(spec, fake, capsys)
    assert code == 0, err
    data = (env / "out" / "notes.jsonl").read_bytes()
    calls = fake.calls
    code, err, again = build(spec, fake, capsys)
    assert code == 0, err
    assert fake.calls == calls and again["calls"] == 0
    assert again["judges"] == first["judges"] and (env / "out" / "notes.jsonl").read_bytes() == data


def test_judge_calls_count_against_max_calls(env, fake, capsys):
    spec = spec_file(env)
    plan = planned(spec, capsys, fake)
    writer = plan["calls"] - plan["judge_calls"]
    code, err, out = build(spec, fake, capsys, "--max-calls", str(writer + 2))
    assert code == 3 and out["stopped"]["reason"] == "budget", err
    assert fake.calls == writer + 2 and fake.judge_calls == 2  # the judge's calls spent the last of the budget


# ---- the test: near-copies, a shortcut and judge "no" answers in one build -----------------------------

PLANTED_QUESTION = "Does this review express {sentiment} sentiment? Review: {body}"
PLANTED_SPEC = """dataset reviews {
  rows = 80
  seed = 3
  model = "gpt-4o-mini"
}
field sentiment: category ~ {"positive": 50%, "negative": 50%}
field body: text from write
prompt write {
  user = "Write a {sentiment} review."
  rows_per_call = 8
}
judge fits {
  question = "QUESTION"
  rows_per_call = 8
}
constraint no_near_copies: near_unique(body, 0.8)
constraint no_shortcut: shortcut_lift(sentiment, body) <= 0.3
constraint agrees: fits
""".replace("QUESTION", PLANTED_QUESTION)


def test_planted_near_copies_shortcut_and_judge_no_are_repaired_reported_and_rejected(env, fake, capsys):
    """One call's rows are copies (repaired: one stays), every positive row is long and every negative one short
    (reported: the shortcut check fails, exit 1), and the judge says "no" to a fifth of the rows (rejected and
    topped up: no row it refused is kept)."""
    root = env
    copy = "one and the same words"  # a text the fake's judge says "yes" to for either sentiment
    assert not any(said_no(PLANTED_QUESTION, {"sentiment": v, "body": copy}, 0.2) for v in ("positive", "negative"))
    fake.push(given_text("body", copy))  # the first call's eight rows are one text
    fake.misbehave = Misbehaviour(pad=(("Write a positive review.", "body", 30),))
    fake.judge = JudgeBehaviour(no_share=0.2)
    code, err, report = build(spec_file(root, PLANTED_SPEC, "reviews.sds"), fake, capsys)
    rows = [json.loads(line) for line in (root / "out" / "reviews.jsonl").read_text().splitlines()]
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 1 and len(rows) == 80, err
    # near-copies: caught and repaired, the first copy stays
    assert checks["no_near_copies"]["passed"] and report["rejected"]["no_near_copies"]["count"] >= 1
    assert [r["body"] for r in rows].count(copy) == 1
    # the shortcut: measured and reported (a property of the whole dataset, not of a row to write again)
    assert not checks["no_shortcut"]["passed"]
    assert checks["no_shortcut"]["values"]["shortcut_lift(sentiment, body)"] > 0.9
    assert report["content"]["shortcuts"]["sentiment"]["body"]["lift"] > 0.9
    # judge "no": rejected under its constraint and topped up
    j = report["judges"]["fits"]
    assert report["rejected"]["agrees"]["count"] == j["judged"] - j["passed"] > 0
    assert not any(said_no(PLANTED_QUESTION, r, 0.2) for r in rows) and report["rounds"] >= 2


def test_report_md_shows_the_weakest_strata_of_many():
    """report.md keeps a judge's table short: per value of each field it reads, then the 10 weakest strata."""
    from synthc.emit.report import _judges_md

    strata = [{"values": {"topic": f"t{i}", "tone": "dry"}, "judged": 10, "passed": i, "pass_rate": i / 10}
              for i in range(10, -5, -1) if i >= 0] + [{"values": {"topic": "t-none", "tone": "dry"}, "judged": 0,
                                                        "passed": 0, "pass_rate": None}]
    by_value = {"tone": {"dry": {"judged": 110, "passed": 55, "pass_rate": 0.5}}}
    md = "\n".join(_judges_md({"fits": {"constraints": ["agrees"], "model": "m", "judged": 110, "passed": 55,
                                        "pass_rate": 0.5, "by_stratum": strata, "by_value": by_value}}))
    assert "### fits by tone" in md and "| dry | 110 | 55 | 50.0% |" in md
    assert "### fits: the 10 strata with the lowest pass rate, of 12" in md
    shown = [line.split(" | ")[0].strip("| ") for line in md.splitlines() if re.match(r"\| t\d", line)]
    # lowest pass rate first, as the title says; t10 (100%) and t-none (nothing judged) are left out
    assert shown == [f"t{i}" for i in range(10)]


def test_a_negated_judge_keeps_the_rows_it_answers_no(env, fake, capsys):
    spec = spec_file(env, SPEC.replace("constraint about: on_topic", "constraint about: not on_topic"))
    fake.judge = JudgeBehaviour(no_share=0.7)
    code, err, out = build(spec, fake, capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in (env / "out" / "notes.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and all(said_no(QUESTION, r, 0.7) for r in rows)
    j = out["judges"]["on_topic"]
    assert out["rejected"]["about"]["count"] == j["judged"] - j["passed"] > 0
