"""Content-quality figures (compiler/quality) on hand-computable inputs, and validate catching planted problems."""

from __future__ import annotations

import gzip
import json
import random

import duckdb
import pytest
from hypothesis import given, settings, strategies as st

from project_env import project_env
from synthc.check import check_file
from synthc.quality import report as content_report
from synthc.quality import sample, shortcuts
from synthc.quality.diversity import compression_ratio, distinct_n, self_similarity
from synthc.quality.neardup import near_duplicate_rejects, near_pairs
from synthc.quality.overlap import OverlapIndex, copy_words, overlap
from synthc.quality.shortcuts import sample_rows, shortcut_lift, top_words
from synthc.quality.tokens import jaccard, shingles, shingles_of, words
from synthc.validate import validate_file


def test_words_lowercase_and_drop_punctuation():
    assert words("Great, GREAT sound!") == ["great", "great", "sound"]


def test_shingles_of_short_and_long_texts():
    assert shingles("a b") == {"a b"}
    assert shingles("a b c d") == {"a b c", "b c d"}
    assert shingles("!!") == frozenset()


def test_distinct_n_counts_ngrams_within_texts():
    # unigrams: a b a | a c -> 5 in all, 3 distinct; bigrams: (a b) (b a) | (a c) -> 3 of 3
    assert distinct_n(["a b a", "a c"], 1) == pytest.approx(3 / 5)
    assert distinct_n(["a b a", "a c"], 2) == pytest.approx(1.0)
    assert distinct_n(["a b", "a b"], 2) == pytest.approx(1 / 2)
    assert distinct_n(["", None], 1) is None


def test_compression_ratio_is_raw_over_gzip_size():
    texts = ["the same words again"] * 50
    raw = "\n".join(texts).encode()
    assert compression_ratio(texts) == pytest.approx(len(raw) / len(gzip.compress(raw, 9, mtime=0)))
    assert compression_ratio(texts) > compression_ratio([f"word{i} other{i * 7}" for i in range(50)])


def test_self_similarity_is_mean_nearest_jaccard():
    # shingles: t0 {a b c, b c d}, t1 {a b c, b c e}, t2 {x y z}: t0~t1 = 1/3, t2 shares nothing
    texts = ["a b c d", "a b c e", "x y z"]
    assert self_similarity(texts) == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert self_similarity(["a b c", "a b c"]) == pytest.approx(1.0)
    assert self_similarity(["a b c"]) is None


def _random_texts(n, words_each, seed):
    r = random.Random(seed)
    vocab = [f"w{i}" for i in range(2000)]
    return [" ".join(r.choice(vocab) for _ in range(words_each)) for _ in range(n)]


@pytest.mark.parametrize("exact_max", [10_000, 0], ids=["exact", "lsh"])
def test_near_pairs_find_planted_copies_with_their_overlap(exact_max):
    texts = _random_texts(300, 40, 5)
    texts[120] = texts[7].replace(texts[7].split()[10], "changed", 1)
    texts[250] = texts[7]
    expected = {(120, 7), (250, 7), (250, 120)}
    found = near_pairs(texts, 0.8, seed=3, exact_max=exact_max)
    assert {(i, j) for i, j, _ in found} == expected
    for i, j, s in found:
        assert s == pytest.approx(overlap(copy_words(texts[i]), copy_words(texts[j])))
    assert dict(((i, j), s) for i, j, s in found)[(120, 7)] == pytest.approx(40 / 41)  # one word of 40 changed


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["the", "for", "a", "b", "c", "d", "e", "f", "g", "h"]), max_size=9),
                min_size=1, max_size=60), st.sampled_from([0.5, 0.7, 0.8]))
def test_the_overlap_index_equals_all_pairs(word_lists, threshold):
    """Exact: the index (sparse rare words + popcount of frequent ones) finds what comparing every pair finds."""
    sets = [copy_words(" ".join(w)) for w in word_lists]
    want = [(i, j) for i in range(len(sets)) for j in range(i) if overlap(sets[i], sets[j]) > threshold]
    assert [(i, j) for i, j, _ in OverlapIndex(sets).pairs(threshold)] == want
    half = len(sets) // 2
    best, where = OverlapIndex(sets[:half]).nearest(sets[half:])
    for k, s in enumerate(sets[half:]):
        vals = [overlap(s, r) for r in sets[:half]]
        assert best[k] == pytest.approx(max(vals, default=0.0))
        assert where[k] == (vals.index(max(vals)) if vals and max(vals) > 0 else -1)


def test_rejects_keep_the_first_copy_and_compare_with_kept_rows_only():
    base = " ".join(f"w{i}" for i in range(30))
    texts = [base, "x " + base, "x y " + base, "unrelated words entirely here"]
    rejects = near_duplicate_rejects(texts, 0.8, seed=1)
    # 1 and 2 both copy 0; 2 copies 1 more closely, but 1 is rejected, so it is reported against 0
    assert [(i, j) for i, j, _ in rejects] == [(1, 0), (2, 0)]
    assert rejects[1][2] == pytest.approx(overlap(copy_words(texts[2]), copy_words(texts[0])))
    assert near_duplicate_rejects(texts, 0.8, seed=1) == rejects  # deterministic


def test_shortcut_lift_finds_length_shortcut_and_not_random_labels():
    r = random.Random(2)
    labels = ["negative", "positive"] * 60
    short = [" ".join(r.choice("abcdefghij") for _ in range(4 if y == "negative" else 30)) for y in labels]
    assert shortcut_lift(labels, short, seed=1) > 0.9
    same = _random_texts(120, 20, 9)
    assert shortcut_lift(labels, same, seed=1) < 0.3
    assert shortcut_lift(["a"] * 5, same[:5]) is None


def test_top_words_name_the_word_tied_to_a_value():
    r = random.Random(4)
    labels = ["positive", "negative"] * 50
    texts = [" ".join(r.choice("abcdefgh") for _ in range(15)) + (" battery" if y == "positive" else " broken")
             for y in labels]
    top = top_words(labels, texts)
    assert top["positive"][0][0] == "battery" and top["negative"][0][0] == "broken"
    assert top["positive"][0][1] > 1.96


SPEC = """
dataset d { rows = 80 seed = 3 }
field sentiment: category ~ {"positive": 50%, "negative": 50%}
field body: text from p
prompt p { user = "Write a {sentiment} review." }
constraint varied: distinct_n(body, 2) >= 0.5
constraint no_near_copies: near_unique(body, 0.8)
constraint no_shortcut: shortcut_lift(sentiment, body) <= 0.3
"""


def _validate(tmp_path, rows):
    spec_path = tmp_path / "d.sds"
    spec_path.write_text(SPEC)
    spec = check_file(spec_path).spec
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {c.name: c for c in validate_file(spec, data).checks}


def _rows(lengths):
    r = random.Random(11)
    vocab = [f"w{i}" for i in range(1000)]
    return [{"sentiment": s, "body": " ".join(r.choice(vocab) for _ in range(lengths[s]))}
            for s in ["positive", "negative"] * 40]


def test_validate_passes_varied_rows(tmp_path):
    checks = _validate(tmp_path, _rows({"positive": 30, "negative": 30}))
    assert checks["varied"].passed and checks["no_near_copies"].passed and checks["no_shortcut"].passed


def test_validate_catches_planted_near_copies_with_pairs(tmp_path):
    rows = _rows({"positive": 30, "negative": 30})
    rows[50]["body"] = rows[3]["body"] + " again"
    rows[70]["body"] = rows[3]["body"]
    c = _validate(tmp_path, rows)["no_near_copies"]
    assert not c.passed and c.violations == 2
    assert [(e["row"], e["copies_row"]) for e in c.examples] == [(51, 4), (71, 4)]
    assert c.examples[1]["similarity"] == 1.0


def test_validate_catches_short_negative_shortcut(tmp_path):
    c = _validate(tmp_path, _rows({"positive": 30, "negative": 6}))["no_shortcut"]
    assert not c.passed and c.values["shortcut_lift(sentiment, body)"] > 0.9


# ---- a build against the loopback fake ------------------------------------------------------------------------

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
constraint varied: distinct_n(note, 3) >= 0.7
constraint not_templated: self_similarity(note) <= 0.5
constraint no_near_copies: near_unique(note, 0.8)
constraint no_shortcut: shortcut_lift(topic, note) <= 0.5
"""


@pytest.fixture
def build_env(tmp_path, monkeypatch):
    from fake_openai import FakeOpenAI

    project_env(tmp_path, monkeypatch)
    with FakeOpenAI() as fake:
        yield tmp_path, fake


def _build(root, fake, text):
    from synthc.cli import main

    spec = root / "notes.sds"
    spec.write_text(text)
    code = main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(root / "out")])
    return code, json.loads((root / "out" / "report.json").read_text())


def test_build_judges_content_constraints_on_the_fakes_rows(build_env):
    root, fake = build_env
    code, report = _build(root, fake, BUILD_SPEC)
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 0 and all(checks[n]["passed"] for n in ("varied", "not_templated", "no_near_copies",
                                                          "no_shortcut"))
    assert 0.7 <= checks["varied"]["values"]["distinct_n(note, 3)"] <= 1


def test_build_repairs_near_copies_like_unique(build_env):
    """The later rows of a near-copy pair are rejected under the constraint and topped up: the first copy stays."""
    from fake_openai import same_text

    root, fake = build_env
    fake.push(same_text("note"))  # the first call's three rows all say "same old words"
    code, report = _build(root, fake, BUILD_SPEC)
    c = {c["name"]: c for c in report["checks"]}["no_near_copies"]
    assert code == 0 and c["passed"]
    assert report["rejected"]["no_near_copies"]["count"] == 2
    notes = [json.loads(l)["note"] for l in (root / "out" / "notes.jsonl").read_text().splitlines()]
    assert notes.count("same old words") == 1 and len(notes) == 24


def test_validate_reports_near_copies_with_their_pairs(build_env, tmp_path, capsys):
    from synthc.cli import main

    root, fake = build_env
    code, report = _build(root, fake, BUILD_SPEC)
    rows = [json.loads(l) for l in (root / "out" / "notes.jsonl").read_text().splitlines()]
    for r in rows[5:8]:
        r["note"] = "same old words"
    data = tmp_path / "copies.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    assert main(["validate", str(root / "notes.sds"), str(data), "--json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    c = checks["no_near_copies"]
    assert not c["passed"] and c["violations"] == 2
    assert all(e["text"] == e["copied_text"] == "same old words" for e in c["examples"])
    assert [n for n, ch in checks.items() if not ch["passed"]] == ["no_near_copies"]


def test_build_report_has_the_content_section(build_env):
    root, fake = build_env
    code, report = _build(root, fake, BUILD_SPEC)
    assert report["report_version"] >= 2  # the content section came with version 2
    note = report["content"]["texts"]["note"]
    assert set(note["overall"]) == {"distinct_1", "distinct_2", "distinct_3", "compression_ratio", "self_similarity"}
    assert {s["field"] for s in note["weakest_strata"]} == {"topic"}
    assert set(report["content"]["shortcuts"]["topic"]["note"]) == {"lift", "top_words"}
    md = (root / "out" / "report.md").read_text()
    assert "## Content" in md and "### `note`" in md and "Label shortcuts" in md


def test_shortcut_lift_above_the_sample_size_uses_the_documented_seeded_sample():
    """LANGUAGE.md: above 5,000 rows the lift is estimated on the 5,000 rows with the lowest md5("SEED:lift:ROW")."""
    from synthc.quality.shortcuts import SAMPLE, sample_rows

    rng = random.Random(7)
    n = SAMPLE + 1500
    labels = [rng.choice(["positive", "negative"]) for _ in range(n)]
    words = _random_texts(1, 200, 11)[0].split()
    texts = ["bad." if y == "negative" else "I like it a lot, " + " ".join(rng.sample(words, 6)) for y in labels]
    whole = shortcut_lift(labels, texts, seed=3)
    assert whole > 0.9  # the planted shortcut is still found on the sample
    keep = sorted(sample_rows(n, SAMPLE, 3))
    assert len(set(keep)) == SAMPLE and whole == shortcut_lift([labels[i] for i in keep], [texts[i] for i in keep],
                                                                seed=3)
    assert shortcut_lift(labels, texts, seed=3) == whole  # deterministic by the seed
    shuffled = labels[:]
    rng.shuffle(shuffled)
    assert abs(shortcut_lift(shuffled, texts, seed=3)) < 0.1  # labels unrelated to the form: no lift


# ---- the figures at scale (issue 21): the seeded sample, the strata in one pass, the linear solver, the stored
# checks of a no-op rebuild. Expected values come from LANGUAGE.md's rules, not from synthc.

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


@pytest.fixture
def notes_spec(tmp_path):
    path = tmp_path / "notes.sds"
    path.write_text(BUILD_SPEC)
    checked = check_file(str(path), str(path))
    assert checked.ok
    return checked.spec


def test_content_above_the_sample_size_is_measured_on_the_sample(notes_spec, monkeypatch):
    monkeypatch.setattr(sample, "SAMPLE", 60)
    texts = _texts(200, 2)
    rows = [(t, "ab"[i % 3 == 0]) for i, t in enumerate(texts)]
    measured = [rows[i] for i in sorted(sample_rows(200, 60, 3))]
    got = content_report.content(notes_spec, _table(rows))["texts"]["note"]
    assert (got["rows"], got["rows_measured"]) == (200, 60)
    column = [t for t, _ in measured]
    assert got["overall"] == {"distinct_1": round(distinct_n(column, 1), 4), "distinct_2": round(distinct_n(column, 2), 4),
                              "distinct_3": round(distinct_n(column, 3), 4),
                              "compression_ratio": round(compression_ratio(column), 4),
                              "self_similarity": round(self_similarity(column), 4)}


def test_near_duplicates_of_a_planted_set_are_counted_within_the_sample(notes_spec, monkeypatch):
    """60 later rows copy the row before them word for word; the report counts exactly the copies whose row and
    original both fall in the documented sample (random 20-word texts over 3,000 words share no 3 words)."""
    monkeypatch.setattr(sample, "SAMPLE", 200)
    texts = _texts(400, 3)
    planted = {j: j - 1 for j in range(100, 400, 5)}
    for j, i in planted.items():
        texts[j] = texts[i]
    kept = set(sample_rows(400, 200, 3))
    known = sum(1 for j, i in planted.items() if j in kept and i in kept)
    got = content_report.content(notes_spec, _table([(t, "a") for t in texts]))["texts"]["note"]
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


def test_a_no_op_rebuild_reads_its_checks_instead_of_measuring_them(tmp_path, monkeypatch):
    """docs/BUILD.md: the checks and content figures of unchanged rows, spec and real data are stored by the
    dataset's sha256 and the IR digest; the rebuild writes the same report without validating again."""
    from fake_openai import FakeOpenAI
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
        real_validate = build_task.validate_written
        monkeypatch.setattr(build_task, "validate_written", lambda *a, **k: measured.append(1) or real_validate(*a, **k))
        assert main([*args, "--endpoint", fake.base_url]) == 0
        assert measured == [] and figures() == first and len(first) == 5  # run counters differ, figures do not
        spec.write_text(BUILD_SPEC.replace(">= 0.7", ">= 0.6"))  # another spec, the same rows: measured again
        assert main([*args, "--endpoint", fake.base_url]) == 0
        assert measured == [1]
        assert json.loads((tmp_path / "out" / "report.json").read_text())["calls"] == 0


def test_lsh_bands_matched_at_once_propose_what_datasketchs_index_proposes():
    """neardup._lsh_pairs groups equal bands with numpy; datasketch's MinHashLSH, each text queried before it is
    inserted, is the reference (with the word-overlap measure and its LSH threshold): the same verified pairs, near-copies, exact copies and wordless texts included."""
    import zlib

    from datasketch import MinHash, MinHashLSH

    from synthc.quality import neardup

    r = random.Random(1)
    texts = [" ".join(r.choice(VOCAB[:300]) for _ in range(r.randint(3, 40))) for _ in range(1500)]
    for j in range(100, 1500, 37):
        w = texts[j - 5].split()
        w[r.randrange(len(w))] = "changed"
        texts[j] = " ".join(w)
    texts[200] = texts[201] = texts[202] = texts[3]
    texts[50], texts[51] = "", "!!"
    sets = [copy_words(t) for t in texts]
    for threshold in (0.5, 0.8):
        lsh = MinHashLSH(threshold=max(0.05, threshold / (2 - threshold) - neardup.LSH_SLACK), num_perm=neardup.NUM_PERM,
                         weights=neardup.LSH_WEIGHTS)
        present = [i for i, s in enumerate(sets) if s]
        hashes = MinHash.bulk([[x.encode() for x in sets[i]] for i in present], num_perm=neardup.NUM_PERM, seed=7,
                              hashfunc=zlib.crc32)
        expected = []
        for i, m in zip(present, hashes):
            expected += [(i, j, overlap(sets[i], sets[j])) for j in lsh.query(m) if overlap(sets[i], sets[j]) > threshold]
            lsh.insert(i, m, check_duplication=False)
        assert len(expected) > 10 and neardup._lsh_pairs(sets, threshold, 7) == sorted(expected)
