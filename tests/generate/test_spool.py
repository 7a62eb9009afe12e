"""The spool (docs/BUILD.md "The round engine", "The spool"): accepted rows and row store entries on disk in
DuckDB, read back equal and in (stratum key, index) order; stale spools of dead builds removed; the repairs'
digest set; the row store file streamed from the spool equal to the one `add` writes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from synthc.generate import repair
from synthc.generate.spool import Spool, remove_stale
from synthc.run.rowstore import RowStore, entry, entry_key

KEYS = ["b", "a", "c"]  # stratum numbers 0, 1, 2; key order is 1, 0, 2


def test_rows_read_back_equal_in_key_then_index_order_after_removals(monkeypatch):
    monkeypatch.setattr("synthc.generate.spool.FLUSH", 3)  # several flushes, and rows still buffered at a read
    spool = Spool(KEYS)
    values = {(0, 5): {"z": 1, "a": "é ✓", "f": 0.1 + 0.2}, (1, 2): {"t": None, "l": [1, "x"]}, (0, 1): {},
              (2, 0): {"n": -3}, (1, 0): {"b": True}, (0, 3): {"d": {"k": 1.5e-300}}, (1, 9): {"x": "y"}}
    for (si, i), v in values.items():
        spool.accept(si, i, v)
    spool.remove([(0, 3), (1, 9)])
    got = list(spool.scan())
    assert [(si, i) for si, i, _ in got] == [(1, 0), (1, 2), (0, 1), (0, 5), (2, 0)]
    for si, i, v in got:
        assert v == values[(si, i)] and list(v) == list(values[(si, i)])  # equal, keys in their own order
    assert spool.counts == [2, 2, 1] and len(spool) == 5
    assert list(spool.scan(fields="a")) == [(1, 0, {"a": None}), (1, 2, {"a": None}), (0, 1, {"a": None}),
                                            (0, 5, {"a": "é ✓"}), (2, 0, {"a": None})]
    si, idx = spool.order()
    assert list(zip(si.tolist(), idx.tolist())) == [(1, 0), (1, 2), (0, 1), (0, 5), (2, 0)]
    assert spool.values([(0, 5), (2, 0)]) == {(0, 5): values[(0, 5)], (2, 0): values[(2, 0)]}


def test_a_spool_file_lives_in_work_and_is_deleted_on_close(tmp_path):
    work = tmp_path / "work"
    with Spool.create(work, KEYS) as spool:
        spool.accept(0, 0, {"a": 1})
        assert list(spool.scan()) == [(0, 0, {"a": 1})]
        assert (work / f"spool-{os.getpid()}.duckdb").exists()
    assert not list(work.iterdir())


def test_the_spools_of_dead_builds_are_removed_and_live_ones_kept(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has exited
    stale = [work / f"spool-{pid}.duckdb", work / f"spool-{pid}.duckdb.wal"]
    (work / f"spool-{pid}.tmp").mkdir()
    (work / f"spool-{pid}.tmp" / "spill.block").write_bytes(b"x")
    live = work / f"spool-{os.getppid()}.duckdb"  # the test runner's parent is alive
    for p in [*stale, live]:
        p.write_bytes(b"x")
    with Spool.create(work, KEYS):
        mine = f"spool-{os.getpid()}."
        assert [p.name for p in work.iterdir() if not p.name.startswith(mine)] == [live.name]
    assert [p.name for p in work.iterdir()] == [live.name]
    assert remove_stale(work) == []


def test_entries_come_back_sorted_the_last_under_a_key_and_stream_into_the_file_add_writes(tmp_path):
    spool = Spool(KEYS)
    entries = {entry_key(f"r-{n}", "d"): entry({"body": f"text {n} ✓"} if n % 3 else None, f"call{n}", "sha",
                                                "no row", "missing") for n in range(50)}
    first = next(iter(entries))
    spool.entry(first, entry({"body": "replaced"}, "c", "s"))
    for k, e in entries.items():
        spool.entry(k, e)
    got = list(spool.entries())
    assert [k for k, _ in got] == sorted(entries) and spool.entry_count() == 50
    assert {k: json.loads(e) for k, e in got} == entries
    streamed = RowStore(tmp_path / "a").add_stream(got)
    written = RowStore(tmp_path / "b")._write(dict(sorted(entries.items())))
    assert streamed.name == written.name and streamed.read_bytes() == written.read_bytes()
    store = RowStore(tmp_path / "a")
    assert store.add_stream(got) is None  # nothing new: no file
    assert store.get("r-1", "d") == entries[entry_key("r-1", "d")]


def test_the_seen_digests_answer_as_a_set_across_merges(monkeypatch):
    monkeypatch.setattr(repair._Seen, "MERGE", 7)
    seen, plain = repair._Seen(), set()
    rng = np.random.default_rng(3)
    for n in rng.integers(0, 400, 600).tolist():
        key = json.dumps(["body", n])
        assert (key in seen) == (key in plain)
        seen.add(key)
        plain.add(key)
    assert len(seen.old) > 0 and all(k in seen for k in plain)


class _Stream:
    """Texts with len() and iteration only (no indexing), counting the passes made over them."""

    def __init__(self, texts):
        self.texts, self.passes = texts, 0

    def __len__(self):
        return len(self.texts)

    def __iter__(self):
        self.passes += 1
        return iter(list(self.texts))


def test_near_pairs_over_a_stream_equal_those_over_a_list_in_two_passes(monkeypatch):
    from synthc.quality import neardup

    monkeypatch.setattr(neardup, "BATCH", 5)  # several batches of signatures
    rng = np.random.default_rng(11)
    words = [f"w{n}" for n in range(300)]
    base = [" ".join(rng.choice(words, 30).tolist()) for _ in range(40)]
    texts = base + [t + " extra" for t in base[:12]] + [None, "", base[3]]
    stream = _Stream(texts)
    got = neardup.near_pairs(stream, 0.8, seed=5, exact_max=0)
    assert got == neardup.near_pairs(texts, 0.8, seed=5, exact_max=0) and len(got) >= 13
    assert stream.passes == 2


def test_signatures_at_once_equal_datasketchs_minhash_bulk():
    import zlib

    from datasketch import MinHash
    from synthc.quality import neardup
    from synthc.quality.overlap import copy_words

    rng = np.random.default_rng(2)
    words = [f"w{n}" for n in range(500)] + ["é", "日本", "x\x002"]
    sets = [copy_words(" ".join(rng.choice(words, int(rng.integers(1, 90))).tolist())) for _ in range(300)]
    for seed in (1, 7, 2 ** 40 + 3):
        got = neardup.signatures_of(sets, seed)
        want = np.stack([m.hashvalues for m in MinHash.bulk([[x.encode() for x in s] for s in sets],
                                                           num_perm=neardup.NUM_PERM, seed=seed & 0xFFFFFFFF,
                                                           hashfunc=zlib.crc32)])
        assert got.dtype == np.uint32 and np.array_equal(got, want.astype(np.uint32))


def test_the_deal_from_ids_alone_equals_the_deal_over_rows():
    """iter_rows streams a split plan's rows: RowSource.dealt_cells deals from the ids first; rows._deal (the
    deal of `deal` and, before, of `finish`) sorts the rows themselves."""
    from types import SimpleNamespace

    from synthc.plan.rows import RowSource, _deal

    cells = tuple(SimpleNamespace(rows=n, values={"split": name}) for n, name in ((37, "train"), (9, "test"), (3, "x")))
    ids = [f"k{n % 7}-{n}" for n in range(60)]  # more rows than the cells hold: the last ones get none
    for seed in (0, 42, 2 ** 40):
        source = RowSource.__new__(RowSource)
        source.plan = SimpleNamespace(dealt=cells, seed=seed)
        rows = [{"id": i} for i in ids]
        _deal(cells, rows, seed)
        got = source.dealt_cells(ids)
        assert [r.get("split") for r in rows] == [cells[c].values["split"] if c >= 0 else None for c in got]


WRITTEN_SPEC = """dataset notes {
  rows = 40
  seed = 3
}
field topic: category ~ {"a": 50%, "b": 50%}
field size: int in 1..9
field when: date in 2024-01-01..2024-12-31
field note: text from write { words = 2..6 }
prompt write {
  user = "Write a note about {topic}."
}
constraint short: word_count(note) <= 5
constraint mid: mean(size) in 3..7
constraint varied: distinct_n(note, 2) >= 0.7
constraint no_near_copies: near_unique(note, 0.8)
constraint no_shortcut: shortcut_lift(topic, note) <= 0.5
"""


def test_the_checks_of_the_written_file_equal_those_of_the_rows_in_memory(tmp_path):
    """The build checks its dataset from the streamed JSONL (validate_written), not from a list of rows: the same
    report, near-copies and broken rows included."""
    from synthc.check import check_file
    from synthc.emit.outputs import DatasetFile
    from synthc.validate import validate_rows, validate_written

    (tmp_path / "notes.sds").write_text(WRITTEN_SPEC)
    spec = check_file(tmp_path / "notes.sds").spec
    words = ["red", "blue", "green", "quiet", "loud", "fast", "slow", "ripe"]
    rows = [{"topic": "ab"[n % 2], "size": n % 9 + 1, "when": f"2024-0{n % 9 + 1}-1{n % 10}",
             "note": " ".join(words[(n * k) % 8] for k in range(1, 3 + n % 5)), "_id": f"r-{n}"} for n in range(40)]
    rows[7]["note"] = rows[3]["note"]  # a copy
    rows[9]["size"] = None
    dataset = DatasetFile(tmp_path / "out" / "notes.jsonl", iter(rows))
    assert len(dataset) == 40 and dataset[:2] == [json.loads(json.dumps(r, sort_keys=True)) for r in rows[:2]]
    written = validate_written(spec, dataset.path)
    assert written.model_dump() == validate_rows(spec, rows).model_dump()
    assert not {c.name: c.passed for c in written.checks}["no_near_copies"]


def test_candidates_verified_a_slice_at_a_time_give_the_same_pairs(monkeypatch):
    """quality.neardup generates and verifies each band's candidate pairs VERIFY at a time (a large group's too),
    skipping pairs an earlier band proposed: any slice size gives the same pairs."""
    from synthc.quality import neardup

    rng = np.random.default_rng(4)
    words = [f"w{n}" for n in range(60)]  # few words: large groups of texts share bands
    texts = [" ".join(rng.choice(words, 12).tolist()) for _ in range(300)]
    texts += [t.replace(" ", " and ", 1) for t in texts[:40]]
    whole = neardup.near_pairs(texts, 0.8, seed=2, exact_max=0)
    monkeypatch.setattr(neardup, "VERIFY", 3)
    assert neardup.near_pairs(texts, 0.8, seed=2, exact_max=0) == whole and len(whole) >= 40
