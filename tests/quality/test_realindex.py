"""The on-disk index of real texts (quality/realindex.py) against the exact word overlap (quality/overlap.py): for
every query whose nearest real text is at or above the floor, the same similarity and the same (lowest) real
text; below it, never more than the exact figure and under the floor. Built once, reused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from hypothesis import given, settings, strategies as st

from synthc.quality import realindex
from synthc.quality.overlap import OverlapIndex, copy_words

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "package_descriptions" / "data" / "packages.jsonl"
SOURCE = "read_json(?, format = 'newline_delimited', sample_size = -1)"


def _file(path: Path, texts: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"t": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def _agree(real: list, queries: list, floor: float, folder: Path) -> None:
    index = realindex.open_or_build(folder, SOURCE, [str(_file(folder / "real.jsonl", real))], "sha", "t", floor)
    got_sim, got_at = index.nearest(queries)
    want_sim, want_at = OverlapIndex([copy_words(t) for t in real]).nearest([copy_words(t) for t in queries])
    for i in range(len(queries)):
        if want_sim[i] >= floor:
            assert got_sim[i] == want_sim[i] and got_at[i] == want_at[i], (queries[i], got_sim[i], want_sim[i])
        else:
            assert got_sim[i] <= want_sim[i] + 1e-12 and got_sim[i] < floor
    for j in {int(a) for a in got_at if a >= 0}:
        assert index.text(j) == real[j] and index.row(j) == j + 1


def test_the_index_equals_the_exact_overlap_above_its_floor(tmp_path):
    real = [json.loads(x)["description"] for x in DATA.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(21)
    queries = []
    for t in rng.sample(real, 300):
        w = t.split()
        i = rng.randrange(len(w))
        queries += [t, " ".join(w[:i] + ["zyzzyva"] + w[i + 1:]), " ".join(w[:i] + w[i + 1:]),
                    " ".join(reversed(w)), " ".join(rng.sample(rng.choice(real).split() + w, len(w)))]
    queries += [None, "", "--", "the of and"]
    for floor in (0.8, 0.6):
        _agree(real, queries, floor, tmp_path / str(floor))
    sims, _ = realindex.open_or_build(tmp_path / "0.8", SOURCE, [str(tmp_path / "0.8" / "real.jsonl")], "sha", "t",
                                      0.8).nearest(queries)
    exact, _ = OverlapIndex([copy_words(t) for t in real]).nearest([copy_words(t) for t in queries])
    assert int((sims >= 0.8).sum()) == int((exact >= 0.8).sum()) > 3 * 300  # copies, edits, reorderings: all found


WORDS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "the", "of", "x.", "A"])
TEXTS = st.lists(st.lists(WORDS, min_size=0, max_size=9).map(" ".join), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(real=TEXTS, queries=TEXTS, floor=st.sampled_from([0.5, 0.7, 0.8, 0.9]))
def test_property_the_index_is_exact_at_and_above_its_floor(tmp_path_factory, real, queries, floor):
    _agree(real, queries, floor, tmp_path_factory.mktemp("ix"))


def test_the_index_is_built_once_and_reused(tmp_path):
    path = _file(tmp_path / "real.jsonl", ["one two three four five", "six seven eight nine ten"])
    first = realindex.open_or_build(tmp_path / "ix", SOURCE, [str(path)], "abc", "t", 0.8)
    stamp = (first.folder / "meta.json").stat().st_mtime_ns
    again = realindex.open_or_build(tmp_path / "ix", SOURCE, [str(path)], "abc", "t", 0.8)
    assert again.folder == first.folder and (again.folder / "meta.json").stat().st_mtime_ns == stamp
    assert first.folder.name.startswith("abc-")  # keyed by the file's sha256
    sims, at = again.nearest(["one two three four five", "one two three four zzz", "nothing alike"])
    assert list(np.round(sims, 4)) == [1.0, round(5 / 6, 4), 0.0] and list(at) == [0, 0, -1]


def test_real_texts_without_a_word_match_nothing(tmp_path):
    path = _file(tmp_path / "real.jsonl", ["", "--", None])
    index = realindex.open_or_build(tmp_path / "ix", SOURCE, [str(path)], "e", "t", 0.8)
    sims, at = index.nearest(["one two", "", None])
    assert list(sims) == [0.0, 0.0, 0.0] and list(at) == [-1, -1, -1]
