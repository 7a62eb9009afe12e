"""Issue 11 part A, the cases that need a build or the fake server: a build whose outputs cannot be written stops
before its first call (the fake server counts them), division and overflow, reshaped targets, joint + given
rounding, NaN answers. The generated hostile cases of tests/check/hostile_cases_errors.py run in test_hostile_fuzz.py."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI
from project_env import project_env
from synthc.cli import main

# ---- output paths, checked before the first call ---------------------------------------------------------

SPEC = """dataset notes {
  rows = 6
  seed = 2
  model = "gpt-4o-mini"
  formats = [jsonl, parquet]
}

field topic: category ~ {
  "a": 50%
  "b": 50%
}
field note: text from write { words = 2..6 }

prompt write {
  user = "Write a note about {topic}."
  rows_per_call = 3
}
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    return project_env(tmp_path, monkeypatch)


def _build(spec: Path, fake: FakeOpenAI, out: Path, *flags: str) -> int:
    return main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(out), *flags])


def _spec(root: Path, text: str = SPEC) -> Path:
    p = root / "notes.sds"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("layout", ["out_is_a_file", "out_under_a_file", "dataset_is_a_directory",
                                    "parquet_is_a_directory", "report_is_a_directory", "lock_is_a_directory",
                                    "cache_under_a_file"])
def test_an_unwritable_output_path_stops_the_build_before_any_call(env, fake, capsys, monkeypatch, layout):
    spec = _spec(env)
    out = env / "out"
    if layout == "out_is_a_file":
        out.write_text("not a folder")
        named = out
    elif layout == "out_under_a_file":
        (env / "plain").write_text("x")
        out = named = env / "plain" / "out"
    elif layout == "lock_is_a_directory":
        named = env / "notes.sds.lock"
        named.mkdir()
    elif layout == "cache_under_a_file":
        (env / "plain").write_text("x")
        named = env / "plain" / "cache"
        monkeypatch.setenv("SYNTHC_CACHE", str(named))
    else:
        name = {"dataset_is_a_directory": "notes.jsonl", "parquet_is_a_directory": "notes.parquet",
                "report_is_a_directory": "report.md"}[layout]
        named = out / name
        named.mkdir(parents=True)
    assert _build(spec, fake, out) == 2
    err = capsys.readouterr().err
    assert fake.calls == 0
    assert str(named) in err and "nothing was sent" in err and "Traceback" not in err


def test_frozen_build_does_not_need_a_writable_lock_path(env, fake, capsys):
    spec = _spec(env)
    assert _build(spec, fake, env / "out") == 0
    calls = fake.calls
    lock = env / "notes.sds.lock"
    text = lock.read_text()
    lock.unlink()
    lock.mkdir()  # --frozen reads no lock then: the build refuses for that reason, not for the path
    assert _build(spec, fake, env / "out2", "--frozen") == 2
    assert "--frozen" in capsys.readouterr().err and fake.calls == calls
    lock.rmdir()
    lock.write_text(text)


def test_emit_batch_to_a_directory_is_exit_2(env, capsys):
    spec = _spec(env)
    (env / "batch").mkdir()
    assert main(["plan", str(spec), "--emit-batch", str(env / "batch")]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["plan", str(spec), "--emit-batch", str(env / "new" / "b.jsonl")]) == 0  # parents are created
    assert (env / "new" / "b.jsonl").read_text().count("\n") >= 1


# ---- derived values without a value: null and a type violation, never NaN --------------------------------

DIVIDES = SPEC.replace('field note:', 'field n: int in 0..2\nfield per = 10 / n\nfield big = n * 1e308 * 10\nfield note:')


def test_division_by_zero_and_overflow_give_null_and_a_type_violation(env, fake, capsys):
    spec = _spec(env, DIVIDES)
    assert main(["check", str(spec)]) == 0
    assert "SDS155" in capsys.readouterr().err
    assert _build(spec, fake, env / "out", "--json") == 1  # the checks fail; the build finished
    report = json.loads(capsys.readouterr().out)
    rows = [json.loads(line) for line in (env / "out" / "notes.jsonl").read_text().splitlines()]
    assert rows and all(r["per"] is None for r in rows if r["n"] == 0)
    assert all(r["per"] == 10 / r["n"] for r in rows if r["n"] != 0)
    assert all(r["big"] is None or (r["n"] == 0 and r["big"] == 0) for r in rows)
    assert all(not (isinstance(v, float) and not math.isfinite(v)) for r in rows for v in r.values())
    failed = {c["name"] for c in report["checks"] if not c["passed"]}
    assert "type:per" in failed and "type:big" in failed and "type:n" not in failed


# ---- one target: a default share reshaped by a constraint is planned, reported and validated the same ----

RESHAPED = """dataset d {
  rows = 30
  seed = 4
  model = "gpt-4o-mini"
}

field mood: category ["a", "b", "c"]
field note: text from write { words = 2..6 }

prompt write {
  user = "Write a {mood} note."
  rows_per_call = 3
}

constraint no_c: mood != "c"
constraint close: tvd(mood) <= 2%
"""


def test_a_reshaped_default_share_is_validated_against_the_planned_target(env, fake, capsys):
    spec = _spec(env, RESHAPED)
    assert main(["plan", str(spec), "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)["marginals"]["mood"]
    assert {v: m["target_share"] for v, m in planned.items()} == {"a": 0.5, "b": 0.5}
    assert _build(spec, fake, env / "out", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert {v: m["target"] for v, m in report["marginals"]["mood"].items()} == {"a": 0.5, "b": 0.5, "c": 0.0}
    assert report["tvd"]["mood"] == 0.0
    assert all(c["passed"] for c in report["checks"])
    assert main(["validate", str(spec), str(env / "out" / "d.jsonl")]) == 0


# ---- a joint table whose member conditions a `given`: every cell within one row ----------------------------


def _joint_and_given(rng: random.Random) -> tuple[str, int, dict, dict]:
    """A random joint a, b and c given a (or b): the spec, N, the joint's cell targets and P(c | on)."""
    from fractions import Fraction

    n = rng.choice([10, 20, 30, 37, 50, 100])
    na, nb = rng.randint(2, 3), rng.randint(2, 4)
    cells = [(f"a{i}", f"b{j}") for i in range(na) for j in range(nb)]
    w = [rng.randint(1, 20) for _ in cells]
    shares = [Fraction(x, sum(w)) for x in w]
    on = rng.choice(["a", "b"])
    values = sorted({c[0 if on == "a" else 1] for c in cells})
    probs, cases = {}, []
    for v in values:
        ws = [rng.randint(1, 5) for _ in range(rng.randint(2, 3))]
        probs[v] = {f"c{i}": Fraction(x, sum(ws)) for i, x in enumerate(ws)}
        cases.append(f'  "{v}": {{' + ", ".join(f'"{k}": {p.numerator}/{p.denominator}' for k, p in probs[v].items())
                     + "}")
    quoted = lambda xs: ", ".join(f'"{x}"' for x in xs)  # noqa: E731
    text = (f"dataset d {{ rows = {n} }}\n"
            f"field a: category [{quoted(sorted({c[0] for c in cells}))}]\n"
            f"field b: category [{quoted(sorted({c[1] for c in cells}))}]\n"
            "joint a, b {\n" + "\n".join(f'  ("{a}", "{b}"): {s.numerator}/{s.denominator}'
                                         for (a, b), s in zip(cells, shares)) + "\n}\n"
            f"field c: category given {on} {{\n" + "\n".join(cases) + "\n}\n")
    return text, n, {c: float(s * n) for c, s in zip(cells, shares)}, (on, probs)


@pytest.mark.parametrize("seed", range(40))
def test_a_joint_whose_member_conditions_a_given_keeps_every_cell_within_one_row(seed, tmp_path):
    from collections import Counter

    from synthc.check import check_file
    from synthc.plan import build_plan

    text, n, targets, (on, probs) = _joint_and_given(random.Random(seed))
    p = tmp_path / "j.sds"
    p.write_text(text)
    plan = build_plan(check_file(p).spec)
    assert plan.ok
    joint, pairs, margin = Counter(), Counter(), Counter()
    for s in [*plan.strata, *plan.dealt]:
        v = s.values
        joint[(v["a"], v["b"])] += s.rows
        pairs[(v[on], v["c"])] += s.rows
        margin[v[on]] += s.rows
    missed = [c for c, t in targets.items() if abs(joint[c] - t) >= 1 and joint[c] != round(t)]
    assert not missed or any("could not keep joint a,b" in w for w in plan.warnings), (missed, plan.warnings)
    assert not missed, f"cells off by a row or more: {[(c, joint[c], round(targets[c], 2)) for c in missed]}"
    # the given's pairs stay within a row of N * P(on = w) * P(c | w)
    index = 0 if on == "a" else 1
    for w, cases in probs.items():
        rows_w = sum(t for cell, t in targets.items() if cell[index] == w)
        for c, share in cases.items():
            assert abs(pairs[(w, c)] - rows_w * float(share)) < 1, (w, c, pairs[(w, c)], rows_w * float(share))


def test_a_dataset_name_too_long_for_a_file_name_stops_before_any_call(env, fake, capsys):
    name = "n" * 250
    spec = _spec(env, SPEC.replace("dataset notes {", f"dataset {name} {{"))
    assert _build(spec, fake, env / "out") == 2
    err = capsys.readouterr().err
    assert fake.calls == 0 and f"{name}.jsonl cannot be written" in err and "Traceback" not in err


# ---- a model answering NaN or Infinity (JSON has neither, Python's json reads both) ------------------------

NAN_SPEC = SPEC.replace("field note: text from write { words = 2..6 }",
                        "field note: text from write { words = 2..6 }\nfield score: float from write")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_model_answering_nan_gets_its_rows_rejected_not_a_crash(env, capsys, value):
    from fake_openai import Misbehaviour

    spec = _spec(env, NAN_SPEC)
    with FakeOpenAI(misbehave=Misbehaviour(constant=(("score", value),))) as fake:
        code = _build(spec, fake, env / "out")
        calls = fake.calls
    err = capsys.readouterr().err
    assert code == 3 and calls > 0, err  # every row rejected: the yield breaker stops the build
    assert "internal error" not in err and "finite number" in err
    assert not (env / "out" / "notes.jsonl").exists()
