"""Paid work is never bought twice (issue 22): the ceiling and --max-calls count every call a build paid for
across runs that stopped (run.ledger), and the advice after a stop says what to change."""

from __future__ import annotations

from fake_openai import FakeOpenAI, Misbehaviour
from test_build_misbehave import SPEC, build, env, planned, spec_file  # noqa: F401 (env is a fixture)

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
