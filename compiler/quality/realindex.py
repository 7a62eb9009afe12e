"""Near-copies of the real texts of a reference file of any size (docs/EVAL.md "Private", "Real files of any
size"): an index of the word overlap of quality.overlap, built once per reference file, column and floor, kept on
disk (next to the cache, keyed by the file's sha256) and reused by every later `build`, `validate` and `eval`.

It is exact at and above its floor: for a query text, every real text whose overlap with it is at least `floor`
is found and verified by its exact overlap, so `nearest` answers exactly what quality.overlap.OverlapIndex
answers whenever the nearest real text is at or above the floor (the same similarity and, on a tie, the same
lowest row). Below the floor it answers the best overlap among the candidates it verified: a lower bound.

How: prefix filtering (Chaudhuri, Ganti & Kaushik 2006, "A Primitive Operator for Similarity Joins"; Bayardo et
al. 2007, "Scaling Up All Pairs Similarity Search"), as OverlapIndex.pairs. A pair at or above the floor shares
at least c = need(n) word occurrences, n the longer text's size, so in one global order of the occurrences
(rarest first: document frequency, then hash) the first |A| - c + 1 of each text meet. The index keeps, per
occurrence, the real texts whose prefix (with c = need(|B|), never more than need(n), so a longer, safe prefix)
holds it; a query looks up its own prefix's occurrences, keeps the candidates whose size allows the floor, and
counts their shared occurrences exactly from the stored word lists.

Words are quality.overlap.copy_words (tokenised in Python, the one definition), each as its 64-bit DuckDB
`hash`: two different words share a hash with a chance of about 2^-64 per pair of distinct words. Memory: the
texts are read from DuckDB in chunks of CHUNK; the index's arrays are memory-mapped files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Sequence

import duckdb
import numpy as np

from .overlap import copy_words

VERSION = 1
FOLDER = "realindex"  # the indexes' folder in the cache root, beside the answers (docs/EVAL.md)
CHUNK = 50_000  # texts tokenised at a time
MERGE = 4_000_000  # distinct hashes of chunks gathered before they are merged into the vocabulary
_MASK = np.uint64((1 << 32) - 1)
_FILES = ("vocab", "rank", "sizes", "rows", "tok_ptr", "tokens", "post_ptr", "post")


def need(sizes, floor: float):
    """The least number of shared word occurrences c with (c + 1) / (n + 1) >= floor, n = sizes (at least 1: no
    shared word is overlap 0)."""
    n = np.asarray(sizes, dtype=np.float64)
    return np.maximum(np.ceil(floor * (n + 1) - 1 - 1e-9), 1).astype(np.int64)


def _hashes(con: duckdb.DuckDBPyConnection, words: list[str]) -> np.ndarray:
    """DuckDB's 64-bit hash of each word, in order."""
    import pyarrow as pa

    if not words:
        return np.zeros(0, dtype=np.uint64)
    table = pa.table({"w": pa.array(words, type=pa.string())})
    con.register("_words", table)
    try:
        got = con.execute("SELECT hash(w) AS h FROM _words").fetchnumpy()["h"]
    finally:
        con.unregister("_words")
    return np.asarray(got, dtype=np.uint64)


def _tokenise(con, texts: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(sizes, hashes of every text's word occurrences, text after text)."""
    sets = [copy_words(t) for t in texts]
    sizes = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    return sizes, _hashes(con, [w for s in sets for w in sorted(s)])


def key(sha256: str, column: str, floor: float) -> str:
    """The index's folder name: the reference file's sha256, the column, the floor, this version and DuckDB's (whose
    hash the index stores)."""
    import hashlib

    tag = hashlib.sha256(f"{column}\x00{floor!r}\x00{VERSION}\x00{duckdb.__version__}".encode()).hexdigest()[:12]
    return f"{sha256}-{tag}"


class RealIndex:
    """An index opened from its folder (see `open_or_build`): `nearest(texts)`, `text(j)`, `row(j)`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        self.floor, self.n, self.column = float(meta["floor"]), int(meta["texts"]), meta["column"]
        self.exact_from = self.floor
        a = {name: np.load(self.folder / f"{name}.npy", mmap_mode="r") for name in _FILES}
        self.vocab, self.rank, self.sizes, self.rows = a["vocab"], a["rank"], a["sizes"], a["rows"]
        self.tok_ptr, self.tokens, self.post_ptr, self.post = a["tok_ptr"], a["tokens"], a["post_ptr"], a["post"]
        self._con = duckdb.connect()
        self._con.execute("SET threads = 1")  # keeps the hashes in row order
        self._last: tuple = ((), None)

    def __len__(self) -> int:
        return self.n

    def row(self, j: int) -> int:
        """The 1-based row of the file of indexed text j."""
        return int(self.rows[j])

    def text(self, j: int) -> Optional[str]:
        return self.texts_of([j])[0]

    def texts_of(self, js: Sequence[int]) -> list[Optional[str]]:
        """The real texts of indexed texts js, read back from the index's copy of the column (texts.parquet)."""
        rows = sorted({self.row(j) for j in js})
        if not rows:
            return []
        got = dict(self._con.execute(f"SELECT row, text FROM read_parquet(?) WHERE row IN ({', '.join(map(str, rows))})",
                                     [str(self.folder / "texts.parquet")]).fetchall())
        return [got.get(self.row(j)) for j in js]

    def nearest(self, texts: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """For each text, its highest overlap with an indexed text and that text's index (-1: none found; the lowest
        index on a tie): exact when at or above the floor, a lower bound below it."""
        k = tuple(texts)
        if self._last[0] != k or self._last[1] is None:
            self._last = (k, self._nearest(texts))
        return self._last[1]

    def _nearest(self, texts: Sequence) -> tuple[np.ndarray, np.ndarray]:
        best, where = np.zeros(len(texts)), np.full(len(texts), -1, dtype=np.int64)
        if not self.n:
            return best, where
        for start in range(0, len(texts), CHUNK):
            part = texts[start:start + CHUNK]
            sizes, hashes = _tokenise(self._con, part)
            ends = np.cumsum(sizes)
            for i, n in enumerate(sizes):
                if n:
                    best[start + i], where[start + i] = self._query(hashes[ends[i] - n:ends[i]], int(n))
        return best, where

    def _query(self, hashes: np.ndarray, n: int) -> tuple[float, int]:
        if not len(self.vocab):  # no real text has a word
            return 0.0, -1
        pos = np.minimum(np.searchsorted(self.vocab, hashes), len(self.vocab) - 1)
        ids = pos[self.vocab[pos] == hashes]
        # the query's prefix in the index's order: its unknown occurrences (document frequency 0) come first and
        # match nothing, then its known ones by rank
        known = max(n - int(need(n, self.floor)) + 1 - (n - len(ids)), 0)
        prefix = ids[np.argsort(np.asarray(self.rank[ids], dtype=np.int64), kind="stable")[:known]]
        if not len(prefix):
            return 0.0, -1
        lists = [np.asarray(self.post[self.post_ptr[t]:self.post_ptr[t + 1]]) for t in prefix]
        cand = np.unique(np.concatenate(lists)) if lists else np.zeros(0, dtype=np.int64)
        if not len(cand):
            return 0.0, -1
        sizes = np.asarray(self.sizes[cand], dtype=np.int64)
        fits = (np.minimum(sizes, n) + 1) / (np.maximum(sizes, n) + 1) >= self.floor - 1e-12
        cand, sizes = cand[fits], sizes[fits]
        if not len(cand):
            return 0.0, -1
        starts = np.asarray(self.tok_ptr[cand], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        idx = np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()))
        mine = np.sort(ids)
        got = np.asarray(self.tokens[idx], dtype=np.int64)
        at = np.minimum(np.searchsorted(mine, got), len(mine) - 1)
        hit = (mine[at] == got).astype(np.int64)
        shared = np.add.reduceat(hit, offsets) if len(hit) else np.zeros(len(cand), dtype=np.int64)
        sim = np.where(shared > 0, (shared + 1) / (np.maximum(sizes, n) + 1), 0.0)
        top = float(sim.max())
        if top <= 0:
            return 0.0, -1
        return top, int(cand[np.flatnonzero(sim == top)[0]])  # cand is sorted: the lowest index on a tie


def open_or_build(folder: Path, source: str, params: list, sha256: str, column: str, floor: float) -> RealIndex:
    """The index of `column` of a reference file under `folder` (folder/key(...)): opened when built before, else
    built from `source`, a DuckDB table expression of the file (its path the parameters `params`)."""
    target = Path(folder) / key(sha256, column, floor)
    if not (target / "meta.json").is_file():
        build(target, source, params, column, floor)
    return RealIndex(target)


def _chunks(con, parquet: Path) -> Iterator[tuple[np.ndarray, list]]:
    reader = con.sql(f"SELECT row, text FROM read_parquet('{_lit(parquet)}')").to_arrow_reader(CHUNK)
    for batch in reader:
        yield batch.column(0).to_numpy().astype(np.int64), batch.column(1).to_pylist()


def build(target: Path, source: str, params: list, column: str, floor: float) -> None:
    """Build the index into `target` (written in a temporary folder beside it, then renamed: a killed build leaves
    no half index)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        con = duckdb.connect()
        con.execute("SET memory_limit = '512MB'")
        con.execute(f"SET temp_directory = '{_lit(work / 'spill')}'")
        col = '"' + column.replace('"', '""') + '"'
        # the column in file order (a table keeps its insertion order: rowid + 1 is the file's row), then a copy of
        # it beside the index, read in chunks here and looked up by row when a real text is shown
        con.execute(f"CREATE TEMP TABLE col AS SELECT CAST({col} AS VARCHAR) AS text FROM {source}", params)
        con.execute(f"COPY (SELECT rowid + 1 AS row, text FROM col ORDER BY rowid) TO '{_lit(work / 'texts.parquet')}' "
                    "(FORMAT parquet, ROW_GROUP_SIZE 100000)")
        con.execute("DROP TABLE col")
        hashing = duckdb.connect()
        hashing.execute("SET threads = 1")
        # pass 1: every text's word occurrences (hashed, to a flat file), their sizes and document frequencies
        sizes, rows, pending = [], [], []
        vocab, df = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        with open(work / "hashes.bin", "wb") as out:
            for r, texts in _chunks(con, work / "texts.parquet"):
                s, h = _tokenise(hashing, texts)
                h.tofile(out)
                sizes.append(s)
                rows.append(r)
                pending.append(np.unique(h, return_counts=True))  # a text's occurrences are distinct: counts are texts
                if sum(len(u) for u, _ in pending) > MERGE:
                    vocab, df = _merge(vocab, df, pending)
                    pending = []
        vocab, df = _merge(vocab, df, pending)
        con.close()
        size = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        del sizes, rows
        order = np.lexsort((vocab, df))  # rarest first, then by hash: one total order of the occurrences
        rank = np.empty(len(vocab), dtype=np.uint32)
        rank[order] = np.arange(len(vocab), dtype=np.uint32)
        tok_ptr = np.concatenate([[0], np.cumsum(size)]).astype(np.int64)
        total = int(tok_ptr[-1])
        tokens = np.lib.format.open_memmap(work / "tokens.npy", mode="w+", dtype=np.uint32, shape=(total,))
        keep = size - need(size, floor) + 1
        # pass 2: word ids, and each text's prefix (its `keep` rarest occurrences) as (id << 32 | text) postings
        with open(work / "hashes.bin", "rb") as f, open(work / "post.bin", "wb") as out:
            for start in range(0, len(size), CHUNK):
                end = min(start + CHUNK, len(size))
                lo, hi = int(tok_ptr[start]), int(tok_ptr[end])
                h = np.fromfile(f, dtype=np.uint64, count=hi - lo)
                ids = np.searchsorted(vocab, h).astype(np.int64)
                tokens[lo:hi] = ids
                text = np.repeat(np.arange(start, end, dtype=np.int64), size[start:end])
                o = np.lexsort((rank[ids], text))
                first = tok_ptr[text[o]] - lo  # the offset of each occurrence's text in this chunk
                place = np.arange(hi - lo) - first
                chosen = o[place < keep[text[o]]]
                ((ids[chosen].astype(np.uint64) << np.uint64(32)) | text[chosen].astype(np.uint64)).tofile(out)
        tokens.flush()
        del tokens
        (work / "hashes.bin").unlink()
        post = np.fromfile(work / "post.bin", dtype=np.uint64)
        (work / "post.bin").unlink()
        post.sort()
        post_ptr = np.searchsorted(post, np.arange(len(vocab) + 1, dtype=np.uint64) << np.uint64(32)).astype(np.int64)
        texts_of = np.lib.format.open_memmap(work / "post.npy", mode="w+", dtype=np.uint32, shape=(len(post),))
        for start in range(0, len(post), 1 << 22):
            texts_of[start:start + (1 << 22)] = post[start:start + (1 << 22)] & _MASK
        texts_of.flush()
        del post, texts_of
        for name, a in (("vocab", vocab), ("rank", rank), ("sizes", size.astype(np.uint32)), ("rows", row),
                        ("tok_ptr", tok_ptr), ("post_ptr", post_ptr)):
            np.save(work / f"{name}.npy", a)
        hashing.close()
        shutil.rmtree(work / "spill", ignore_errors=True)
        (work / "meta.json").write_text(json.dumps({"version": VERSION, "column": column, "floor": floor,
                                                    "texts": int(len(size)), "duckdb": duckdb.__version__}),
                                        encoding="utf-8")
        try:
            os.replace(work, target)
        except OSError:  # another process built it first
            if not (target / "meta.json").is_file():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _lit(p: Path) -> str:
    return str(p).replace("'", "''")


def _merge(vocab: np.ndarray, df: np.ndarray, pending: list) -> tuple[np.ndarray, np.ndarray]:
    """The sorted vocabulary and its document frequencies with the chunks' (unique hashes, counts) added."""
    if not pending:
        return vocab, df
    merged, inv = np.unique(np.concatenate([vocab, *(u for u, _ in pending)]), return_inverse=True)
    counts = np.concatenate([df, *(c for _, c in pending)]).astype(np.int64)
    return merged, np.bincount(inv, weights=counts, minlength=len(merged)).astype(np.int64)
