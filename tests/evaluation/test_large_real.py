"""A real file larger than eval's sample (evaluation/sides.py SAMPLE_ROWS, made small here): the faithful and
useful figures read a sample chosen by content, and the private figures and `max_similarity_to_real` read every
row through quality/realindex.py's index, kept under the cache and reused, with the same answers as the exact
path above its floor (docs/EVAL.md, "Real files of any size")."""

from __future__ import annotations

import random

from synthc.evaluation import sides
from test_known_answers import env, evaluate, halves, jsonl, SPEC  # noqa: F401 (env: the fixture)

NO_COPIES = "constraint no_copies: max_similarity_to_real(synopsis) <= 0.8\n"


def _rows() -> list[dict]:
    reference, other = halves()
    rng = random.Random(4)
    copies = [{"section": r["section"], "synopsis": r["description"]} for r in rng.sample(reference, 40)]
    edits = [{"section": r["section"], "synopsis": r["description"] + " zyzzyva"} for r in rng.sample(reference, 40)]
    return copies + edits + [{"section": r["section"], "synopsis": r["description"]} for r in other[:300]]


def test_a_sampled_real_file_gives_the_exact_private_figures_above_the_floor(env, capsys, monkeypatch):
    (env / "pk.sds").write_text(SPEC + NO_COPIES, encoding="utf-8")
    rows = _rows()
    code, exact, _ = evaluate(capsys, env, rows)
    assert exact["real"]["sample"] is None and exact["real"]["rows"] == 1000
    monkeypatch.setattr(sides, "SAMPLE_ROWS", 400)
    code2, big, _ = evaluate(capsys, env, rows)
    assert big["real"]["rows"] == 1000 and big["real"]["sample"] == 400
    p, q = exact["private"]["texts"]["synopsis"], big["private"]["texts"]["synopsis"]
    assert q["exact_from"] == 0.8 and q["above"] == p["above"] >= 40 and q["max"] == p["max"] == 1.0
    assert q["closest"] == p["closest"]  # the same rows, similarities and texts, read back from the index
    def no_copies(ev):
        return next(c for c in ev["constraints"] if c["name"] == "no_copies")

    assert no_copies(big) == no_copies(exact) == {"name": "no_copies", "expr": "(max_similarity_to_real(synopsis) <= 0.8)",
                                                  "value": 1.0, "passed": False}
    assert len(list((env / "cache" / "realindex").iterdir())) == 1  # built once, beside the cache
    # the sample is chosen by content: a reordered copy of the file gives the same sample and figures
    reference, _ = halves()
    jsonl(env / "data" / "packages.jsonl", list(reversed(reference)))
    _, again, _ = evaluate(capsys, env, rows)
    assert again["useful"]["test_rows"] == big["useful"]["test_rows"]
    assert again["useful"]["lift"] == big["useful"]["lift"]


def test_cache_gc_removes_the_indexes_of_files_no_lock_names(env, capsys, monkeypatch):
    from synthc.check.reference import file_sha256
    from synthc.cli import main
    from synthc.emit.lock import LOCK_VERSION

    (env / "pk.sds").write_text(SPEC + NO_COPIES, encoding="utf-8")
    monkeypatch.setattr(sides, "SAMPLE_ROWS", 400)
    evaluate(capsys, env, _rows()[:50])
    folder = env / "cache" / "realindex"
    (built,) = list(folder.iterdir())
    sha = file_sha256(env / "data" / "packages.jsonl")
    assert built.name.startswith(sha)
    stale = folder / ("0" * 64 + "-abc")  # an index of a reference file no lock names
    stale.mkdir()
    lock = env / "pk.sds.lock"
    lock.write_text(f'{{"lock_version": {LOCK_VERSION}, "calls": {{}}, "reference": {{"sha256": "{sha}"}}}}')
    assert main(["cache", "gc", "--keep-lock", str(lock), "--older-than", "0"]) == 0
    assert list(folder.iterdir()) == [built]
