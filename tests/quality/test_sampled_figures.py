"""The content figures at scale (issue 21): the seeded sample DuckDB picks, the figures measured on it, the strata
ranked from one pass, the linear solver of shortcut_lift against lbfgs, and the stored checks of a no-op
rebuild. Expected values are computed here from LANGUAGE.md's rules, not read back from synthc."""

from __future__ import annotations

import json
import random

import duckdb
import pytest

from synthc.check import check_file
from synthc.quality import report as content_report
from synthc.quality import sample, shortcuts
from synthc.quality.diversity import compression_ratio, distinct_n, self_similarity
from synthc.quality.shortcuts import sample_rows, shortcut_lift
from synthc.quality.tokens import shingles_of, words

VOCAB = [f"w{i}" for i in range(3000)]


def _table(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute('CREATE TABLE data ("note" VARCHAR, "topic" VARCHAR)')
    con.executemany("INSERT INTO data VALUES (?, ?)", rows)
    return con


def _texts(n: int, seed: int, words_each: int = 20) -> list[str]:
    r = random.Random(seed)
    return [" ".join(r.choice(VOCAB) for _ in range(words_each)) for _ in range(n)]


def test_the_duckdb_sample_is_the_documented_seeded_sample():
    """LANGUAGE.md: the k rows with the lowest md5("SEED:lift:ROW"), ROW counting from 0 over the rows present."""
    texts = _texts(300, 1)
    rows = [(None if i % 7 == 0 else t, "ab"[i % 2]) for i, t in enumerate(texts)]
    present = [r for r in rows if r[0] is not None]
    got, total = sample.sampled(_table(rows), "data", ["note", "topic"], seed=5, present=["note"], k=40)
    assert total == len(present)
    assert got == [present[i] for i in sorted(sample_rows(len(present), 40, 5))]
    everything, _ = sample.sampled(_table(rows), "data", ["note", "topic"], seed=5, present=["note"], k=1000)
    assert everything == present  # at most k rows: every one, in row order


SPEC = """dataset notes {
  rows = 10
  seed = 5
  model = "gpt-4o-mini"
}
field topic: category ~ {"a": 50%, "b": 50%}
field note: text from write
prompt write { user = "Write a note about {topic}." }
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "notes.sds"
    path.write_text(SPEC)
    checked = check_file(str(path), str(path))
    assert checked.ok
    return checked.spec


def test_content_above_the_sample_size_is_measured_on_the_sample(spec, monkeypatch):
    monkeypatch.setattr(sample, "SAMPLE", 60)
    texts = _texts(200, 2)
    rows = [(t, "ab"[i % 3 == 0]) for i, t in enumerate(texts)]
    measured = [rows[i] for i in sorted(sample_rows(200, 60, 5))]
    got = content_report.content(spec, _table(rows))["texts"]["note"]
    assert (got["rows"], got["rows_measured"]) == (200, 60)
    column = [t for t, _ in measured]
    assert got["overall"] == {"distinct_1": round(distinct_n(column, 1), 4), "distinct_2": round(distinct_n(column, 2), 4),
                              "distinct_3": round(distinct_n(column, 3), 4),
                              "compression_ratio": round(compression_ratio(column), 4),
                              "self_similarity": round(self_similarity(column), 4)}


def test_near_duplicates_of_a_planted_set_are_counted_within_the_sample(spec, monkeypatch):
    """30 later rows copy an earlier one word for word; the report counts exactly the copies whose row and
    original both fall in the documented sample (random 20-word texts over 3,000 words share no 3 words)."""
    monkeypatch.setattr(sample, "SAMPLE", 120)
    texts = _texts(400, 3)
    planted = {j: j - 1 - (j % 5) for j in range(100, 400, 10)}
    for j, i in planted.items():
        texts[j] = texts[i]
    kept = set(sample_rows(400, 120, 5))
    known = sum(1 for j, i in planted.items() if j in kept and i in kept)
    got = content_report.content(spec, _table([(t, "a") for t in texts]))["texts"]["note"]
    assert 0 < known < len(planted)  # the sample sees some pairs, not all: the count is the sample's
    assert got["near_duplicates"] == known


def test_strata_ranked_from_one_pass_equal_the_strata_measured_one_by_one():
    r = random.Random(3)
    rows = []
    for _ in range(900):
        a, b = r.choice("xyz"), r.choice([1, 2, 3, 4])
        vocab = VOCAB[:25] if a == "x" else VOCAB  # x: a narrow vocabulary, the weakest stratum
        t = " ".join(r.choice(vocab) for _ in range(r.randint(2, 15))) if r.random() > 0.03 else "!!"
        rows.append((t, a, b))
    column = [t for t, _, _ in rows]
    split = [words(t) for t in column]
    sets = [shingles_of(w) for w in split]
    every = []
    for i, lab in enumerate(["a", "b"], 1):
        for v in dict.fromkeys(row[i] for row in rows):
            at = [k for k, row in enumerate(rows) if row[i] == v]
            every.append({"field": lab, "value": v, "rows": len(at),
                          **content_report._figures([column[k] for k in at], [split[k] for k in at],
                                                    [sets[k] for k in at])})
    every.sort(key=lambda s: (-(s["self_similarity"] or 0), s["distinct_2"] or 0, s["field"], str(s["value"])))
    weakest = content_report._weakest(["a", "b"], rows, column, split, sets)
    assert weakest == every[:content_report.STRATA] and weakest[0]["value"] == "x"


def _planted_shortcut(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Three labels; 80% of label y's texts are 15 * y words longer (a length shortcut)."""
    r = random.Random(seed)
    labels, texts = [], []
    for _ in range(n):
        y = r.randrange(3)
        m = r.randint(5, 30) + (15 * y if r.random() < 0.8 else 0)
        labels.append(str(y))
        texts.append(" ".join(r.choice(VOCAB) for _ in range(m)).capitalize() + ".")
    return labels, texts


def test_the_linear_solver_agrees_with_lbfgs_on_a_planted_shortcut(monkeypatch):
    labels, texts = _planted_shortcut(600, 4)
    saga = shortcut_lift(labels, texts, seed=2)
    monkeypatch.setattr(shortcuts, "SOLVER", {"solver": "lbfgs", "max_iter": 1000})
    shortcuts._lift.cache_clear()
    lbfgs = shortcut_lift(labels, texts, seed=2)
    assert lbfgs > 0.3 and abs(saga - lbfgs) < 0.02
    shuffled = labels[:]
    random.Random(1).shuffle(shuffled)
    assert abs(shortcut_lift(shuffled, texts, seed=2)) < 0.1  # no shortcut: no lift, whatever the solver


BUILD_SPEC = """dataset notes {
  rows = 24
  seed = 3
  model = "gpt-4o-mini"
}
field topic: category ~ {"a": 50%, "b": 50%}
field note: text from write { words = 2..6 }
prompt write {
  user = "Write a note about {topic}."
  rows_per_call = 3
}
constraint varied: distinct_n(note, 3) >= 0.1
constraint no_shortcut: shortcut_lift(topic, note) <= 1
"""


def test_a_no_op_rebuild_reads_its_checks_instead_of_measuring_them(tmp_path, monkeypatch):
    """docs/BUILD.md: the checks and content figures of unchanged rows, spec and real data are stored by the
    dataset's sha256 and the IR digest; the rebuild writes the same report without validating again."""
    from fake_openai import FakeOpenAI
    from project_env import project_env
    from synthc.cli import main
    from synthc.tasks import build as build_task

    project_env(tmp_path, monkeypatch)
    spec = tmp_path / "notes.sds"
    spec.write_text(BUILD_SPEC)
    args = ["build", str(spec), "--out", str(tmp_path / "out")]
    with FakeOpenAI() as fake:
        assert main([*args, "--endpoint", fake.base_url]) == 0
        figures = lambda: {k: v for k, v in json.loads((tmp_path / "out" / "report.json").read_text()).items()  # noqa: E731
                           if k in ("checks", "marginals", "tvd", "content", "passed")}
        first = figures()
        measured = []
        real_validate = build_task.validate_rows
        monkeypatch.setattr(build_task, "validate_rows", lambda *a, **k: measured.append(1) or real_validate(*a, **k))
        assert main([*args, "--endpoint", fake.base_url]) == 0
        assert measured == [] and figures() == first and len(first) == 5  # run counters differ, figures do not
        spec.write_text(BUILD_SPEC.replace(">= 0.1", ">= 0.2"))  # another spec, the same rows: measured again
        assert main([*args, "--endpoint", fake.base_url]) == 0
        assert measured == [1]
        assert json.loads((tmp_path / "out" / "report.json").read_text())["calls"] == 0
