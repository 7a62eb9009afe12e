"""The row store on its own: entries by (row id, digest), one file per add, first file wins, corrupt files are
misses, gc keeps the entries whose answer is kept."""

from __future__ import annotations

from synthc.run.rowstore import RowStore, entry, entry_key


def test_entries_round_trip_and_only_new_ones_are_written(tmp_path):
    store = RowStore(tmp_path)
    assert len(store) == 0 and store.get("s-000000", "d1") is None
    first = store.add({entry_key("s-000000", "d1"): entry({"note": "hi"}, "call1", "ans1"),
                       entry_key("s-000001", "d1"): entry(None, "call1", "ans1", "cut off")})
    assert first is not None and first.parent == tmp_path / "rows"
    again = RowStore(tmp_path)  # a later build reads what the first wrote
    assert again.get("s-000000", "d1")["values"] == {"note": "hi"}
    assert again.get("s-000001", "d1") == {"values": None, "call": "call1", "answer": "ans1", "reason": "cut off"}
    assert again.get("s-000000", "d2") is None  # another request for the same row: no answer
    # entries it already holds are not written again; an add of nothing new writes no file
    assert again.add({entry_key("s-000000", "d1"): entry({"note": "other"}, "call9", "ans9")}) is None
    assert again.get("s-000000", "d1")["values"] == {"note": "hi"}
    assert len(list((tmp_path / "rows").iterdir())) == 1


def test_a_corrupt_or_foreign_file_is_a_miss(tmp_path):
    store = RowStore(tmp_path)
    store.add({entry_key("a-000000", "d"): entry({"x": 1}, "c", "a")})
    (tmp_path / "rows" / "0bad.json").write_text("{not json")
    (tmp_path / "rows" / "0old.json").write_text('{"version": 0, "rows": {}}')
    fresh = RowStore(tmp_path)
    assert len(fresh) == 1 and fresh.get("a-000000", "d")["values"] == {"x": 1}


def test_gc_keeps_the_entries_whose_answer_is_kept(tmp_path):
    store = RowStore(tmp_path)
    store.add({entry_key("a-000000", "d"): entry({"x": 1}, "keep", "a1")})
    store.add({entry_key("b-000000", "d"): entry({"x": 2}, "drop", "a2"),
               entry_key("c-000000", "d"): entry({"x": 3}, "keep", "a1")})
    assert store.gc({"keep"}) == 1
    after = RowStore(tmp_path)
    assert len(after) == 2 and after.get("b-000000", "d") is None
    assert after.get("c-000000", "d")["values"] == {"x": 3}
    assert RowStore(tmp_path).gc(set()) == 2 and not list((tmp_path / "rows").iterdir())
