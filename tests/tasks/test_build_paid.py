"""Paid work is never bought twice (issue 22): the ceiling and --max-calls count every call a build paid for
across runs that stopped (run.ledger), and the advice after a stop says what to change."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_openai import FakeOpenAI, Misbehaviour, slow
from synthc.cli import main
from synthc.emit.lock import call_keys, plan_stats
from synthc.run.cache import AnswerCache
from test_build_misbehave import SPEC, build, env, planned, spec_file  # noqa: F401 (env is a fixture)

ROOT = Path(__file__).resolve().parents[2]
LOOSE = SPEC.replace("word_count(note) <= 6", "word_count(note) <= 2")  # about 1 row in 5 passes


def test_a_rerun_after_a_ceiling_stop_makes_no_new_call(env, capsys):
    spec = spec_file(env, LOOSE)
    plan = planned(spec, capsys)
    with FakeOpenAI() as fake:
        code, err, out = build(spec, fake, capsys, "--min-yield", "0")
        first = fake.calls
        assert code == 3 and out["stopped"]["reason"] == "ceiling"
        code, err, out = build(spec, fake, capsys, "--min-yield", "0")
        assert fake.calls == first  # the rerun paid nothing: the ceiling counts the first run's calls
    assert first <= plan["max_calls"]
    assert code == 3 and out["stopped"]["reason"] == "ceiling" and out["stopped"]["paid_calls"] == first
    assert "paid by earlier runs" in err and f"--max-calls N with N above {plan['max_calls']}" in err
    assert "run the same command again" not in err


def test_max_calls_counts_the_calls_of_earlier_runs(env, capsys):
    spec = spec_file(env, LOOSE)
    with FakeOpenAI() as fake:
        code, _, _ = build(spec, fake, capsys, "--min-yield", "0", "--max-calls", "5")
        assert code == 3 and fake.calls == 5
        code, _, out = build(spec, fake, capsys, "--min-yield", "0", "--max-calls", "8")
        assert fake.calls == 8 and out["stopped"]["reason"] == "budget"  # 3 more, not 8 more


def test_a_finished_build_starts_the_next_build_with_an_empty_ledger(env, capsys):
    spec = spec_file(env)
    with FakeOpenAI() as fake:
        code, _, _ = build(spec, fake, capsys, "--max-calls", "3")
        assert code == 3 and any((env / "cache" / "ledger").glob("*.jsonl"))
        code, _, report = build(spec, fake, capsys)
    assert code == 0 and report["calls_interrupted_runs"] == 3
    assert not any((env / "cache" / "ledger").glob("*.jsonl"))


def test_after_a_yield_stop_the_advice_says_what_to_change(env, capsys):
    spec = spec_file(env)
    with FakeOpenAI(misbehave=Misbehaviour(constant=(("note", "far too many words in this note"),))) as fake:
        code, err, out = build(spec, fake, capsys)
    assert code == 3 and out["stopped"]["reason"] == "yield"
    assert "stops again" in out["stopped"]["next"] and "run the same command again" not in err
    assert "--min-yield" in out["stopped"]["next"]


def answers(env) -> set[str]:
    return set(AnswerCache(env / "cache").keys())


def test_a_spec_built_against_two_endpoints_keeps_both_builds(env, capsys, monkeypatch):
    spec = spec_file(env)
    with FakeOpenAI() as one, FakeOpenAI() as two:
        assert build(spec, one, capsys)[0] == 0
        first = answers(env)
        assert build(spec, two, capsys, "--out", str(env / "elsewhere"))[0] == 0
        lock = json.loads((env / "notes.sds.lock").read_text())
        assert sorted(lock["builds"]) == sorted(f"gpt-4o-mini @ {f.base_url}" for f in (one, two))
        assert lock["endpoint"] == two.base_url  # the top level is the last build's, as before
        monkeypatch.chdir(env)
        capsys.readouterr()
        assert main(["cache", "gc", "--older-than", "0"]) == 0
        assert "removed 0 answers" in capsys.readouterr().out
        assert first <= answers(env)
        calls = one.calls
        assert build(spec, one, capsys)[0] == 0 and one.calls == calls  # paid once, kept, not bought again


def test_plan_is_sized_by_the_acceptance_measured_at_its_own_endpoint():
    lock = {"lock_version": 1, "ir_sha256": "x", "model": "m", "endpoint": "http://b/v1",
            "acceptance": {"rate": 0.3, "by_stratum": {}}, "planned_with": {"rate": 0.3, "by_stratum": {}},
            "builds": {"m @ http://a/v1": {"ir_sha256": "y", "acceptance": {"rate": 0.9, "by_stratum": {}},
                                           "planned_with": {"rate": 0.9, "by_stratum": {}}, "calls": {"k1": "a"}},
                       "m @ http://b/v1": {"ir_sha256": "x", "acceptance": {"rate": 0.3, "by_stratum": {}},
                                           "planned_with": {"rate": 0.3, "by_stratum": {}}, "calls": {"k2": "b"}}}}
    assert plan_stats(lock, "z", "http://a/v1", "m").rate == 0.9
    assert plan_stats(lock, "z", "http://c/v1", "m").rate is None  # never built there: the planner's default
    assert call_keys(lock) == {"k1", "k2"} and call_keys(lock, "http://a/v1", "m") == {"k1"}


def test_gc_keeps_young_answers_and_paid_ones_unless_asked(env, capsys, monkeypatch):
    spec = spec_file(env)
    other = spec_file(env, SPEC.replace("seed = 5", "seed = 6"), "other.sds")
    with FakeOpenAI() as fake:
        assert build(spec, fake, capsys)[0] == 0
        kept = answers(env)
        assert build(other, fake, capsys, "--max-calls", "2")[0] == 3  # stopped: no lock, a ledger
        assert len(answers(env)) == len(kept) + 2
    monkeypatch.chdir(env)
    capsys.readouterr()
    assert main(["cache", "gc"]) == 0  # young answers stay
    assert len(answers(env)) == len(kept) + 2
    assert main(["cache", "gc", "--older-than", "0"]) == 0  # old enough, but an unfinished build paid for them
    assert len(answers(env)) == len(kept) + 2 and "2 paid by unfinished builds" in capsys.readouterr().out
    assert main(["cache", "gc", "--all", "--dry-run"]) == 0
    assert "would remove 2 answers" in capsys.readouterr().out and len(answers(env)) == len(kept) + 2
    assert main(["cache", "gc", "--all"]) == 0
    assert answers(env) == kept


def test_a_stopped_build_writes_the_rows_it_accepted_and_what_is_missing(env, capsys):
    spec = spec_file(env)
    with FakeOpenAI() as fake:
        code, err, out = build(spec, fake, capsys, "--max-calls", "5")
    assert code == 3 and out["stopped"]["reason"] == "budget"
    rows = [json.loads(line) for line in (env / "out" / "notes.partial.jsonl").read_text().splitlines()]
    report = json.loads((env / "out" / "notes.partial.json").read_text())
    assert 0 < len(rows) == report["rows"] < 120 and report["rows_planned"] == 120
    assert report["rows_missing"] == 120 - len(rows) == sum(report["missing"].values())
    assert report["reason"] == "budget" and report["stopped"]["next"]
    assert all(len(r["note"].split()) <= 6 for r in rows)  # accepted rows only
    assert "notes.partial.jsonl" in err and not (env / "out" / "notes.jsonl").exists()
    assert "missing" in (env / "out" / "notes.partial.md").read_text()
    with FakeOpenAI() as fake:
        assert build(spec, fake, capsys)[0] == 0
    assert (env / "out" / "notes.jsonl").exists() and not (env / "out" / "notes.partial.jsonl").exists()


def test_a_yield_stop_keeps_the_good_rows_too(env, capsys):
    spec = spec_file(env, LOOSE.replace("<= 2", "<= 1"))
    with FakeOpenAI() as fake:
        code, _, out = build(spec, fake, capsys)
    report = json.loads((env / "out" / "notes.partial.json").read_text())
    assert code == 3 and report["reason"] == out["stopped"]["reason"] == "yield"
    assert report["rows"] == len((env / "out" / "notes.partial.jsonl").read_text().splitlines())


def answered_batch(fake: FakeOpenAI, batch, results, fail: int = 0):
    """The Batch API's output for a batch input file, answered by the fake without HTTP (fake.calls stays)."""
    lines = []
    for n, line in enumerate(batch.read_text().splitlines()):
        req = json.loads(line)
        if n < fail:
            lines.append({"custom_id": req["custom_id"], "response": None, "error": {"code": "server_error"}})
            continue
        status, _, body = fake.answer(req["body"])
        lines.append({"custom_id": req["custom_id"], "response": {"status_code": status, "body": body}})
    results.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return results


def test_ingest_makes_no_call_and_emits_the_top_ups_as_the_next_batch(env, capsys):
    spec = spec_file(env, LOOSE)
    with FakeOpenAI() as fake:
        assert main(["plan", str(spec), "--emit-batch", str(env / "b1.jsonl"), "--endpoint", fake.base_url]) == 0
        results = answered_batch(fake, env / "b1.jsonl", env / "r1.jsonl")
        capsys.readouterr()
        args = ["--endpoint", fake.base_url, "--out", str(env / "out"), "--min-yield", "0", "--json"]
        assert main(["ingest", str(spec), str(results), *args]) == 3
        got = capsys.readouterr()
        assert fake.calls == 0  # nothing was called without --live
        stopped = json.loads(got.out)["stopped"]
        nxt = env / "out" / "notes.next-batch.jsonl"
        assert stopped["reason"] == "batch" and stopped["batch"] == str(nxt) and "--live" in stopped["next"]
        second = [json.loads(x) for x in nxt.read_text().splitlines()]
        assert len(second) == stopped["batch_calls"] >= 1  # the top-ups of round 2
        first_ids = {json.loads(x)["custom_id"] for x in (env / "b1.jsonl").read_text().splitlines()}
        assert not {r["custom_id"] for r in second} & first_ids  # top-up calls, not round 1's
        results = answered_batch(fake, nxt, env / "r2.jsonl")
        capsys.readouterr()
        code = main(["ingest", str(spec), str(results), *args])
        err = capsys.readouterr().err
        assert f"{len(second)} answers stored" in err and "custom_ids" not in err  # every top-up mapped back
        assert code in (0, 3) and fake.calls == 0


def test_a_failed_batch_line_is_the_next_batch(env, capsys):
    spec = spec_file(env)
    with FakeOpenAI() as fake:
        assert main(["plan", str(spec), "--emit-batch", str(env / "b1.jsonl"), "--endpoint", fake.base_url]) == 0
        results = answered_batch(fake, env / "b1.jsonl", env / "r1.jsonl", fail=1)
        assert main(["ingest", str(spec), str(results), "--endpoint", fake.base_url, "--out", str(env / "out")]) == 3
        assert fake.calls == 0
    nxt = [json.loads(x) for x in (env / "out" / "notes.next-batch.jsonl").read_text().splitlines()]
    assert [r["custom_id"] for r in nxt] == [json.loads((env / "b1.jsonl").read_text().splitlines()[0])["custom_id"]]


def test_batch_answers_are_reported_as_batch_answers(env, capsys):
    spec = spec_file(env)
    with FakeOpenAI() as fake:
        assert main(["plan", str(spec), "--emit-batch", str(env / "b1.jsonl"), "--endpoint", fake.base_url]) == 0
        results = answered_batch(fake, env / "b1.jsonl", env / "r1.jsonl")
        capsys.readouterr()
        assert main(["ingest", str(spec), str(results), "--endpoint", fake.base_url, "--out", str(env / "out"),
                     "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
    assert fake.calls == 0 and report["calls"] == 0
    assert report["calls_batch"] == report["cache_hits"] > 0 and report["calls_interrupted_runs"] == 0


def test_ingest_for_another_model_says_which_one_the_batch_was_for(env, capsys):
    spec = spec_file(env)
    with FakeOpenAI() as fake:
        assert main(["plan", str(spec), "--emit-batch", str(env / "b1.jsonl"), "--endpoint", fake.base_url]) == 0
        results = answered_batch(fake, env / "b1.jsonl", env / "r1.jsonl")
        capsys.readouterr()
        code = main(["ingest", str(spec), str(results), "--endpoint", fake.base_url, "--model", "other-model",
                     "--out", str(env / "out")])
        err = capsys.readouterr().err
        assert fake.calls == 0 and code == 2 and "0 answers stored" in err
        assert f"emitted for --model gpt-4o-mini (--endpoint {fake.base_url})" in err and "--model other-model" in err


def test_a_batch_emitted_without_the_endpoint_is_filed_under_the_builds_endpoint(env, capsys):
    spec = spec_file(env)
    with FakeOpenAI() as fake:
        assert main(["plan", str(spec), "--emit-batch", str(env / "b1.jsonl")]) == 0  # OpenAI's URL in the keys
        results = answered_batch(fake, env / "b1.jsonl", env / "r1.jsonl")
        capsys.readouterr()
        assert main(["ingest", str(spec), str(results), "--endpoint", fake.base_url, "--out", str(env / "out")]) == 0
        assert fake.calls == 0


def test_the_round_line_counts_rows_after_the_unique_repair(env, capsys):
    spec = spec_file(env, SPEC + "constraint distinct: unique(note)\n")
    with FakeOpenAI(misbehave=Misbehaviour(constant=(("note", "the same short note"),))) as fake:
        code, err, out = build(spec, fake, capsys)
    assert code == 3 and out["stopped"]["reason"] == "yield"
    line = next(ln for ln in err.splitlines() if ln.startswith("synthc: round 1:"))
    accepted = int(line.split("; ")[1].split("/")[0])
    assert accepted == out["stopped"]["rows_accepted"] < 20  # not the 120 counted before repeats were rejected


def test_plan_json_states_the_rows_of_a_completed_dataset(capsys):
    assert main(["plan", str(ROOT / "examples" / "package_descriptions" / "packages.sds"), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["plan_version"] == 3 and plan["rows"] == plan["rows_synthetic"]  # `rows` keeps its meaning
    assert plan["rows_real"] == plan["real"]["real_rows"] > 0
    assert plan["rows_dataset"] == plan["rows_real"] + plan["rows_synthetic"] > plan["rows"]


def test_ctrl_c_writes_the_rows_accepted_so_far(env):
    spec = spec_file(env)
    cache = env / "cache" / "answers"
    with FakeOpenAI() as fake:
        fake.push(*[slow(0.3)] * 40)
        proc = subprocess.Popen([sys.executable, "-m", "synthc", "build", str(spec), "--endpoint", fake.base_url,
                                 "--out", str(env / "out"), "--concurrency", "1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while len(list(cache.rglob("*.json"))) < 8 and time.monotonic() < deadline:  # 80 rows answered
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 3, err
    report = json.loads((env / "out" / "notes.partial.json").read_text())
    rows = (env / "out" / "notes.partial.jsonl").read_text().splitlines()
    # the rows judged by then (batches of 64, or every second: any number) are the ones written
    assert report["reason"] == "interrupted" and report["rows"] == len(rows) < 120
    assert report["rows_missing"] == 120 - len(rows) and not (env / "out" / "notes.jsonl").exists()
    assert "notes.partial.jsonl" in err
