"""Round 1 priced from the row store's index (docs/BUILD.md, "Pricing round 1 from the row store's index") equals
round 1 replayed row by row through the round engine, whenever the index answers; and the index declines
(the replay decides) whenever a row of round 1 would be asked, a context changed, or its entries files changed.

Each spec is built through the build's executor against the deterministic fake model of the diff tests, its row
store entries and index written as a finished build writes them; the prediction is then made for the same plan
and for the plan a rebuild makes (the build's acceptance rates size other spares)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from diff_support import FakeModel, checked, identity_of
from fake_openai import FakeOpenAI

from synthc.check import check_file
from synthc.cli import main
from synthc.generate import predict
from synthc.generate.executor import Budget, Executor
from synthc.generate.predict import from_index, replayed, round_one
from synthc.plan import build_plan
from synthc.plan.carry import RunBuilder, count, intersect, subtract, union
from synthc.run.cache import AnswerCache
from synthc.run.rowstore import RowStore
from synthc.tasks.build import BuildOptions, prepare

ROOT = Path(__file__).resolve().parents[2]

# Two prompts, the second reading the first's output; stage 0 rejects rows on planned values (`small`), the first
# prompt's answers are rejected by a constraint the fake's random words meet about half the time (`early`).
STAGED = """dataset staged {
  rows = 60
  seed = 11
  model = "gpt-4o-mini"
}

field topic: category ~ {
  "rain": 50%
  "sun": 50%
}
field delta: int in -5..5
field note: text from write { words = 2..12 }
field tag: text from label { words = 1..3 }

prompt write {
  user = "Write a note about {topic}, number {delta}."
  rows_per_call = 4
}

prompt label {
  user = "Tag this note: {note}"
  rows_per_call = 6
}

constraint small: abs(delta) <= 3
constraint early: matches(note, "^[a-m]")
"""

SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs/plan").glob("*.sds")) + [
    "specs/valid/constraints_row_functions.sds", "specs/valid/judges.sds",
    "specs/valid/prompt_rows_per_call_auto.sds", "specs/valid/generated_structured_types.sds"]


def built(spec, spec_path: Path, cache: Path):
    """Build with the fake model (yield breaker off, three rounds at most) and store its rows and index as a
    finished build does; (prep, identity, outcome)."""
    prep = prepare(spec, spec_path, BuildOptions(offline=True))
    assert not hasattr(prep, "exit_code"), prep
    identity = identity_of(prep)
    outcome = asyncio.run(Executor(spec, prep.plan, FakeModel(identity), AnswerCache(cache), store=RowStore(cache),
                                   budget=Budget(min_yield=0.0, max_rounds=3)).run())
    RowStore(cache).add_stream(outcome.accepted.entries(), outcome.index.to_json(prep.plan.strata))
    return prep, identity, outcome


def figures(replay) -> tuple:
    return len(replay.calls), sum(c.cached for c in replay.calls), +Counter(replay.carried)


def spec_at(tmp_path: Path, text: str):
    d = tmp_path / "spec"
    d.mkdir(exist_ok=True)
    (d / "s.sds").write_text(text, encoding="utf-8")
    return checked(tmp_path, text), d / "s.sds"


@pytest.mark.parametrize("name", SPECS)
def test_the_index_prices_round_one_as_the_replay_does(tmp_path, name):
    path = ROOT / name
    spec = check_file(path, path.name).spec
    prep, identity, outcome = built(spec, path, tmp_path / "cache")
    for plan in (prep.plan, build_plan(spec, outcome.acceptance, prep.plan.profile)):
        store = RowStore(tmp_path / "cache")
        fast = from_index(spec, plan, identity, store)
        assert fast is not None, "every row of round 1 is carried or dead: the index answers"
        assert figures(fast) == figures(replayed(spec, plan, identity, AnswerCache(tmp_path / "cache"), store))


def test_rows_dead_at_stage_0_and_rejected_by_the_first_prompt_are_counted_as_the_replay_counts_them(tmp_path):
    spec, path = spec_at(tmp_path, STAGED)
    prep, identity, _ = built(spec, path, tmp_path / "cache")
    store = RowStore(tmp_path / "cache")
    fast = from_index(spec, prep.plan, identity, store)
    slow = replayed(spec, prep.plan, identity, AnswerCache(tmp_path / "cache"), store)
    requested = sum(s.requested for s in prep.plan.strata)
    assert fast is not None
    assert 0 < fast.carried["write"] < requested  # stage 0 rejected some rows: they are neither asked nor carried
    assert 0 < fast.carried["label"] < fast.carried["write"]  # `early` rejected some notes: no label for them
    assert figures(fast) == figures(slow)


def test_more_rows_than_the_store_holds_are_replayed(tmp_path):
    spec, path = spec_at(tmp_path, STAGED)
    prep, identity, _ = built(spec, path, tmp_path / "cache")
    for rows, answered in ((90, True), (300, False)):  # the top-up rounds asked rows past the first 60
        grown, grown_path = spec_at(tmp_path, STAGED.replace("rows = 60", f"rows = {rows}"))
        plan = prepare(grown, grown_path, BuildOptions(offline=True)).plan
        store = RowStore(tmp_path / "cache")
        fast = from_index(grown, plan, identity, store)
        slow = replayed(grown, plan, identity, AnswerCache(tmp_path / "cache"), store)
        assert (fast is not None) == answered and bool(slow.calls) != answered
        assert figures(round_one(grown, plan, identity, AnswerCache(tmp_path / "cache"), store)) == figures(slow)


@pytest.mark.parametrize("old,new", [
    ('user = "Tag this note: {note}"', 'user = "Tag the note: {note}"'),  # a prompt's request
    ('constraint early: matches(note, "^[a-m]")', 'constraint early: matches(note, "^[a-p]")'),  # a verdict
    ("abs(delta) <= 3", "abs(delta) <= 2"),  # stage 0
])
def test_a_changed_context_is_not_read_from_the_index(tmp_path, old, new):
    spec, path = spec_at(tmp_path, STAGED)
    built(spec, path, tmp_path / "cache")
    edited, edited_path = spec_at(tmp_path, STAGED.replace(old, new))
    prep = prepare(edited, edited_path, BuildOptions(offline=True))
    store = RowStore(tmp_path / "cache")
    fast = from_index(edited, prep.plan, identity_of(prep), store)
    slow = replayed(edited, prep.plan, identity_of(prep), AnswerCache(tmp_path / "cache"), store)
    assert fast is None or figures(fast) == figures(slow)
    if "Tag" in old:
        assert fast is None and slow.calls  # the label prompt's rows are asked anew


def test_an_index_whose_entries_file_changed_is_not_read(tmp_path):
    spec, path = spec_at(tmp_path, STAGED)
    prep, identity, _ = built(spec, path, tmp_path / "cache")
    store = RowStore(tmp_path / "cache")
    assert from_index(spec, prep.plan, identity, store) is not None
    entries = next(p for p in store.dir.iterdir() if p.suffix == ".json")
    data = json.loads(entries.read_bytes())
    data["rows"] = dict(list(data["rows"].items())[: len(data["rows"]) // 2])
    entries.write_text(json.dumps(data))
    assert from_index(spec, prep.plan, identity, RowStore(tmp_path / "cache")) is None


def test_cache_gc_removes_the_indexes_of_the_entries_it_rewrites(tmp_path):
    spec, path = spec_at(tmp_path, STAGED)
    prep, identity, outcome = built(spec, path, tmp_path / "cache")
    store = RowStore(tmp_path / "cache")
    keep = set(list(outcome.calls)[: len(outcome.calls) // 2])
    assert store.gc(keep) > 0
    assert not list((store.dir / "index").iterdir())
    assert from_index(spec, prep.plan, identity, RowStore(tmp_path / "cache")) is None


def test_plan_and_diff_print_the_same_figures_with_and_without_the_index(tmp_path, monkeypatch, capsys):
    """Through the CLI: a build against the loopback fake, then `plan --json` and `diff --json` read from the
    index, and again with the index removed (the replay): the same figures."""
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    spec = tmp_path / "staged.sds"
    spec.write_text(STAGED.replace("rows = 60", "rows = 40").replace(
        'constraint early: matches(note, "^[a-m]")\n', ""), encoding="utf-8")
    with FakeOpenAI() as fake:
        assert main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(tmp_path / "build")]) == 0
        index = tmp_path / "cache" / "rows" / "index"
        assert index.is_dir()  # the build wrote it
        runs, replays = [], []
        monkeypatch.setattr(predict, "replayed", lambda *a, **k: replays.append(1) or replayed(*a, **k))
        for _ in range(2):
            capsys.readouterr()
            assert main(["plan", str(spec), "--json", "--endpoint", fake.base_url]) == 0
            plan = json.loads(capsys.readouterr().out)
            main(["diff", str(spec), str(spec), "--json", "--endpoint", fake.base_url])
            diff = json.loads(capsys.readouterr().out)
            runs.append((plan["this_build"], diff["plan"], len(replays)))
            shutil.rmtree(index, ignore_errors=True)
    assert runs[0][2] == 0 and runs[1][2] > 0  # the first plan and diff read the index, the second replayed
    assert runs[0][:2] == runs[1][:2]
    assert runs[0][0]["calls"] == 0 and runs[0][0]["rows_carried"] > 0


@given(st.lists(st.integers(0, 200)), st.lists(st.integers(0, 200)))
def test_runs_are_sets_of_row_indices(a, b):
    ra, rb = _runs(a), _runs(b)
    assert _indices(union(ra, rb)) == set(a) | set(b)
    assert _indices(intersect(ra, rb)) == set(a) & set(b)
    assert _indices(subtract(ra, rb)) == set(a) - set(b)
    assert count(ra) == len(set(a))
    assert all(r[0] < r[1] for r in ra) and all(x[1] < y[0] for x, y in zip(ra, ra[1:]))  # disjoint, apart


def _runs(indices) -> list:
    builder = RunBuilder()
    for i in indices:  # in the order given, repeats too, as a round's chunks hand rows in
        builder.add(i)
    return builder.runs()


def _indices(runs) -> set:
    return {i for s, e in runs for i in range(s, e)}
