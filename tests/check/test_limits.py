"""The size limits (LANGUAGE.md, "Limits") as properties: whatever the size asked for, the checker answers in
bounded time, accepting exactly what is within the limit and rejecting the rest with the limit's code; the
planner's quantiles terminate within their range for any int range; bounded reads; no call past a limit."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from fake_openai import FakeOpenAI
from synthc import ir
from synthc.check import check_file
from synthc.cli import main
from synthc.limits import (MAX_DEF_NESTING, MAX_EXPR_NODES, MAX_INT, MAX_JOINT_CELLS, MAX_POISSON_LAMBDA, MAX_ROWS,
                           MAX_SOURCE_BYTES, MAX_TEMPLATE_CHARS, MIN_INT)
from synthc.plan.numeric import NumericDist
from synthc.syntax import read_bounded, read_source

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CHECK_SECONDS = 2.0  # CPU for one check in-process, however large the size asked for


def _check(tmp_path: Path, text: str):
    p = tmp_path / "spec.sds"
    p.write_text(text, encoding="utf-8")
    start = time.process_time()
    result = check_file(p)
    return result, time.process_time() - start


def _codes(result) -> set[str]:
    return {d.code for d in result.diagnostics if d.severity == "error"}


# ---- templates: lengths before text ---------------------------------------------------------------


@FAST
@given(depth=st.integers(0, 70), fan=st.integers(2, 4), base=st.integers(1, 50))
def test_any_fragment_doubling_is_checked_in_bounded_time(tmp_path, depth, fan, base):
    lines = ["dataset d { rows = 5 }", f'fragment f0 = "{"x" * base}"']
    lines += [f"fragment f{i} = " + " + ".join([f"f{i - 1}"] * fan) for i in range(1, depth + 1)]
    lines += ["field body: text from p", f"prompt p {{ user = f{depth} }}"]
    result, seconds = _check(tmp_path, "\n".join(lines) + "\n")
    assert seconds < CHECK_SECONDS
    over = base * fan**depth > MAX_TEMPLATE_CHARS
    assert _codes(result) == ({"SDS093"} if over else set())
    if over:  # reported once, at the first fragment past the limit
        first = next(i for i in range(depth + 1) if base * fan**i > MAX_TEMPLATE_CHARS)
        [d] = [d for d in result.diagnostics if d.code == "SDS093"]
        assert f"fragment `f{first}`" in d.message and d.span.line == first + 2
    else:
        [p] = result.spec.prompts
        assert len(p.user.text) == base * fan**depth


@FAST
@given(depth=st.integers(0, 3000), piece=st.integers(1, 60))
def test_any_chain_of_fragments_is_spliced_without_deep_recursion(tmp_path, depth, piece):
    lines = ["dataset d { rows = 5 }", f'fragment f0 = "{"y" * piece}"']
    lines += [f'fragment f{i} = f{i - 1} + "{"y" * piece}"' for i in range(1, depth + 1)]
    lines += ["field body: text from p", f"prompt p {{ user = f{depth} }}"]
    result, seconds = _check(tmp_path, "\n".join(lines) + "\n")
    assert seconds < CHECK_SECONDS
    over = piece * (depth + 1) > MAX_TEMPLATE_CHARS
    assert _codes(result) == ({"SDS093"} if over else set())
    if not over:
        assert len(result.spec.prompts[0].user.text) == piece * (depth + 1)


# ---- def inlining: sizes before expansion ---------------------------------------------------------


@FAST
@given(depth=st.integers(0, 70), fan=st.integers(2, 3), derived=st.booleans())
def test_any_def_doubling_is_checked_in_bounded_time(tmp_path, depth, fan, derived):
    lines = ["dataset d { rows = 5 }", "def d0(x) = x > 1"]
    lines += [f"def d{i}(x) = " + " and ".join([f"d{i - 1}(x)"] * fan) for i in range(1, depth + 1)]
    lines += ["field a: int in 1..5", f"field b = d{depth}(a)" if derived else f"constraint c: d{depth}(a)"]
    result, seconds = _check(tmp_path, "\n".join(lines) + "\n")
    assert seconds < CHECK_SECONDS
    size = 3
    for _ in range(depth):
        size = fan * size + fan - 1
    assert _codes(result) == ({"SDS094"} if size > MAX_EXPR_NODES else set())
    if size <= MAX_EXPR_NODES:
        e = (result.spec.fields[-1].expr if derived else result.spec.constraints[0].expr)
        assert _nodes(e) == size  # the size computed before inlining is the size inlined


@FAST
@given(depth=st.integers(0, 3000))
def test_any_chain_of_predicates_is_checked_with_a_position(tmp_path, depth):
    """`def dN(x) = not dN-1(x)`: linear in size, but each level nests the inlining one call deeper."""
    lines = ["dataset d { rows = 5 }", "def d0(x) = x > 1"]
    lines += [f"def d{i}(x) = not d{i - 1}(x)" for i in range(1, depth + 1)]
    lines += ["field a: int in 1..5", f"constraint c: d{depth}(a)"]
    result, seconds = _check(tmp_path, "\n".join(lines) + "\n")
    assert seconds < CHECK_SECONDS
    assert _codes(result) == ({"SDS094"} if depth + 1 > MAX_DEF_NESTING else set())
    if depth + 1 > MAX_DEF_NESTING:
        [d] = result.diagnostics
        assert d.span.line == depth + 4 and f"nest {depth + 1} calls deep" in d.message


def _nodes(e: ir.Expr) -> int:
    return 1 + sum(_nodes(a) for a in e.args)


# ---- joint tables ---------------------------------------------------------------------------------


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(na=st.integers(1, 80), extra=st.integers(-300, 300))
def test_joint_tables_past_the_cell_limit_are_refused(tmp_path, na, extra):
    nb = max(1, (MAX_JOINT_CELLS + extra) // na)
    n = na * nb
    cells = "\n".join(f'("a{i}", "b{j}"): 1/{n}' for i in range(na) for j in range(nb))
    a = ", ".join(f'"a{i}"' for i in range(na))
    b = ", ".join(f'"b{j}"' for j in range(nb))
    result, seconds = _check(tmp_path, f"dataset d {{ rows = 10 }}\nfield x: category [{a}]\n"
                                       f"field y: category [{b}]\njoint x, y {{\n{cells}\n}}\n")
    assert seconds < CHECK_SECONDS
    assert _codes(result) == ({"SDS095"} if n > MAX_JOINT_CELLS else set())


# ---- rows ------------------------------------------------------------------------------------------


@FAST
@given(rows=st.one_of(st.integers(1, 10**13), st.sampled_from([MAX_ROWS, MAX_ROWS + 1])))
def test_rows_past_the_limit_are_refused(tmp_path, rows):
    result, _ = _check(tmp_path, f"dataset d {{ rows = {rows} }}\nfield a: bool\n")
    assert _codes(result) == ({"SDS090"} if rows > MAX_ROWS else set())


def test_a_build_past_the_row_limit_makes_no_call(tmp_path, monkeypatch):
    """rows = 1e9 against a live fake endpoint: refused (exit 2) before any call, with nothing written."""
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-limits")
    (tmp_path / "synthc.toml").write_text("")
    spec = tmp_path / "big.sds"
    spec.write_text('dataset big { rows = 1000000000 }\nfield a: int in 1..5\nfield body: text from p\n'
                    'prompt p { user = "Note {a}." }\n')
    with FakeOpenAI() as fake:
        rc = main(["build", str(spec), "--endpoint", fake.base_url, "--model", "gpt-4o-mini",
                   "--out", str(tmp_path / "out")])
        assert rc == 2
        assert fake.calls == 0
    assert not (tmp_path / "out").exists()


# ---- numbers ---------------------------------------------------------------------------------------


class _Counted(NumericDist):
    calls = 0

    def cdf(self, x):
        type(self).calls += 1
        return super().cdf(x)


ints = st.integers(MIN_INT, MAX_INT)


@settings(max_examples=300, deadline=None)
@given(a=ints, b=ints, ps=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=8),
       sd=st.one_of(st.none(), st.floats(1e-3, 1e15)))
def test_any_int_range_has_terminating_quantiles_within_it(a, b, ps, sd):
    lo, hi = min(a, b), max(a, b)
    dist = ir.Dist(kind="uniform") if sd is None else ir.Dist(kind="normal", params={"mean": lo / 2 + hi / 2, "sd": sd})
    try:
        d = _Counted(ir.Type(kind="int", low=lo, high=hi), dist)
    except ValueError:
        assume(False)  # a normal with no mass in the range: the checker reports it (SDS015)
    for p in sorted(ps):
        _Counted.calls = 0
        q = d.quantile(p)
        assert isinstance(q, int) and lo <= q <= hi
        assert _Counted.calls <= 4 * 66 + 8  # O(log range): doubling then bisection over at most 2^64 values
        # the smallest value whose cdf passes p
        assert d.cdf(q) > min(p, 1 - 1e-12) or q == hi
        assert q == lo or d.cdf(q - 1) <= min(p, 1 - 1e-12)
    qs = [d.quantile(p) for p in sorted(ps)]
    assert qs == sorted(qs)


@settings(max_examples=100, deadline=None)
@given(lam=st.floats(1e-6, MAX_POISSON_LAMBDA), lo=st.integers(0, MAX_INT), width=st.integers(0, MAX_INT),
       ps=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=5))
def test_poisson_tables_are_bounded_by_lambda_not_by_the_range(lam, lo, width, ps):
    hi = min(MAX_INT, lo + width)
    d = NumericDist(ir.Type(kind="int", low=lo, high=hi), ir.Dist(kind="poisson", params={"lambda": lam}))
    assert len(d._table) <= 20 * math.sqrt(lam) + 200
    for p in ps:
        assert lo <= d.quantile(p) <= hi


def test_poisson_keeps_its_shape_inside_a_wide_range():
    d = NumericDist(ir.Type(kind="int", low=0, high=MAX_INT), ir.Dist(kind="poisson", params={"lambda": 4.0}))
    pmf0 = math.exp(-4.0)
    assert d.cdf(0) == pytest.approx(pmf0, rel=1e-9)
    assert d.cdf(4) == pytest.approx(sum(math.exp(-4.0) * 4.0**k / math.factorial(k) for k in range(5)), rel=1e-9)


# ---- bounded reads ---------------------------------------------------------------------------------


def test_a_device_is_read_only_to_the_limit():
    text, diag = read_source("/dev/zero")
    assert text is None and diag.code == "SDS003" and "over 2,000,000 bytes" in diag.message


def test_a_fifo_that_never_ends_is_read_only_to_the_limit(tmp_path):
    fifo = tmp_path / "endless.sds"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer():
        try:
            with open(fifo, "wb") as f:
                while not stop.is_set():
                    f.write(b"# a comment that never ends\n" * 1000)
        except (BrokenPipeError, OSError):
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    time.sleep(0.1)  # the writer opens first, as a shell's <(...) does
    try:
        data = read_bounded(fifo, MAX_SOURCE_BYTES)
    finally:
        stop.set()
    assert len(data) == MAX_SOURCE_BYTES + 1


def test_a_fifo_nobody_writes_reads_as_empty_at_once(tmp_path):
    fifo = tmp_path / "silent.sds"
    os.mkfifo(fifo)
    start = time.monotonic()
    text, diag = read_source(fifo)
    assert time.monotonic() - start < 1.0
    assert text is None and diag.code == "SDS003" and "empty" in diag.message


def test_ingest_refuses_a_device_instead_of_reading_it_forever(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "cache"))
    (tmp_path / "synthc.toml").write_text("")
    spec = tmp_path / "s.sds"
    spec.write_text('dataset s { rows = 3 }\nfield a: bool\nfield body: text from p\nprompt p { user = "Say {a}." }\n')
    (tmp_path / "results.jsonl").symlink_to("/dev/zero")
    assert main(["ingest", str(spec), str(tmp_path / "results.jsonl"), "--model", "gpt-4o-mini",
                 "--endpoint", "http://127.0.0.1:9/v1"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_a_lock_that_is_a_device_is_refused_not_read(tmp_path):
    from synthc.emit.lock import LockError, read_lock
    (tmp_path / "s.sds.lock").symlink_to("/dev/zero")
    with pytest.raises(LockError, match="not a regular file"):
        read_lock(tmp_path / "s.sds.lock")
