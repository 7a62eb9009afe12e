"""Hostile specs for the size limits (LANGUAGE.md, "Limits"), as case generators for tests/check/test_hostile_fuzz.py.

Each generator draws one case from `rng` and works out, from the limits in `synthc.limits`, whether the spec
is within them (exit 0, no code) or past one (exit 2 and that limit's code). The harness runs the case as a
subprocess and holds it to 2 s of CPU and 500 MB. Format: see the docstring of tests/check/test_hostile_fuzz.py.
"""

from __future__ import annotations

import random

from synthc.limits import (MAX_DEF_NESTING, MAX_EXPR_NODES, MAX_INT, MAX_JOINT_CELLS, MAX_PARAM, MAX_POISSON_LAMBDA, MAX_ROWS,
                           MAX_SOURCE_BYTES, MAX_TEMPLATE_CHARS, MIN_INT)

# A build that got past its checks would try this endpoint; nothing listens on the discard port, so a call
# attempted by mistake fails instead of reaching anyone.
NOWHERE = "http://127.0.0.1:9/v1"


def _outcome(ok: bool, code: str) -> dict:
    return {"exits": {0}, "code": None} if ok else {"exits": {2}, "code": code}


def _big_int(rng: random.Random) -> int:
    """A whole number of 1 to 30 digits, either sign: around and far past 64 bits."""
    digits = rng.choice([1, 3, 9, 15, 18, 19, 19, 20, 23, 30])
    n = rng.randrange(10 ** (digits - 1), 10**digits)
    if rng.random() < 0.3:
        n = rng.choice([MAX_INT, MAX_INT + 1, -MIN_INT, -MIN_INT + 1])
    return n if rng.random() < 0.5 else -n


def int_range_quantiles(rng: random.Random) -> dict:
    """An int over any range, read by a prompt, so that `plan --emit-batch` computes every row's quantile."""
    lo, hi = sorted((_big_int(rng), _big_int(rng)))
    sd = rng.choice([None, 10**12, 0.001])
    dist = "" if sd is None else f" ~ normal(mean = 0, sd = {sd})"
    rows = rng.randint(1, 60)
    spec = (f"dataset d {{ rows = {rows}  seed = {rng.randrange(2**32)} }}\n"
            f"field n: int in {lo}..{hi}{dist}\n"
            "field body: text from p\n"
            'prompt p { user = "Write about {n}." }\n')
    argv = ["plan", "spec.sds", "--emit-batch", "calls.jsonl"]
    if not (MIN_INT <= lo and hi <= MAX_INT):
        return {"files": {"spec.sds": spec}, "argv": argv, **_outcome(False, "SDS091"), "name": "int_range"}
    if sd is not None and (6 * sd < lo or -6 * sd > hi):  # a normal with almost no mass in the range
        return {"files": {"spec.sds": spec}, "argv": argv, **_outcome(False, "SDS015"), "name": "int_range_normal"}
    return {"files": {"spec.sds": spec}, "argv": argv, **_outcome(True, ""), "name": "int_range"}


def poisson_large_lambda(rng: random.Random) -> dict:
    """poisson with lambda from 1 to 1e300 on ranges up to 2^63-1."""
    lam = 10 ** rng.choice([0, 1, 3, 5, 6, 6, 7, 12, 15, 16, 100, 300])
    if rng.random() < 0.3:
        lam = rng.choice([MAX_POISSON_LAMBDA, MAX_POISSON_LAMBDA + 1])
    hi = rng.choice([10, 1000, 10**9, MAX_INT])
    lo = rng.choice([0, 0, hi // 2, hi])
    spec = (f"dataset d {{ rows = {rng.randint(1, 60)} }}\n"
            f"field n: int in {lo}..{hi} ~ poisson(lambda = {lam})\n"
            "field body: text from p\n"
            'prompt p { user = "Count {n}." }\n')
    ok = lam <= MAX_POISSON_LAMBDA and lam <= MAX_PARAM
    return {"files": {"spec.sds": spec}, "argv": ["plan", "spec.sds", "--emit-batch", "calls.jsonl"],
            **_outcome(ok, "SDS092"), "name": "poisson_lambda"}


def fragment_doubling(rng: random.Random) -> dict:
    """Fragments that each include the last two or three times, up to 64 levels."""
    depth, fan = rng.choice([rng.randint(1, 16), rng.randint(1, 64)]), rng.choice([2, 2, 3])
    base = "x" * rng.randint(1, 40)
    lines = [f"dataset d {{ rows = {rng.randint(1, 20)} }}", f'fragment f0 = "{base}"']
    length = len(base)
    longest = length
    for i in range(1, depth + 1):
        lines.append(f"fragment f{i} = " + " + ".join([f"f{i - 1}"] * fan))
        length *= fan
        longest = max(longest, length)
    lines += ["field body: text from p", f"prompt p {{ user = f{depth} }}"]
    command = rng.choice(["check", "plan"])
    return {"files": {"spec.sds": "\n".join(lines) + "\n"}, "argv": [command, "spec.sds"],
            **_outcome(longest <= MAX_TEMPLATE_CHARS, "SDS093"), "name": f"fragment_doubling_{command}"}


def fragment_chain(rng: random.Random) -> dict:
    """Fragments that each include the last once, up to 3,000 deep: linear in length, deep in nesting."""
    depth = rng.randint(0, 3000)
    piece = "y" * rng.randint(1, 40)
    lines = [f"dataset d {{ rows = {rng.randint(1, 20)} }}", f'fragment f0 = "{piece}"']
    lines += [f'fragment f{i} = f{i - 1} + "{piece}"' for i in range(1, depth + 1)]
    lines += ["field body: text from p", f"prompt p {{ user = f{depth} }}"]
    ok = len(piece) * (depth + 1) <= MAX_TEMPLATE_CHARS
    return {"files": {"spec.sds": "\n".join(lines) + "\n"}, "argv": ["check", "spec.sds"],
            **_outcome(ok, "SDS093"), "name": "fragment_chain"}


def long_template(rng: random.Random) -> dict:
    """One string literal or a sum of a few, around the template limit."""
    total = rng.choice([MAX_TEMPLATE_CHARS - 1, MAX_TEMPLATE_CHARS, MAX_TEMPLATE_CHARS + 1,
                        rng.randint(1, 2 * MAX_TEMPLATE_CHARS)])
    cuts = sorted(rng.randint(1, total - 1) for _ in range(rng.randint(0, 2)))
    parts = [b - a for a, b in zip([0] + cuts, cuts + [total]) if b > a]
    lits = " + ".join('"' + "w" * n + '"' for n in parts)
    spec = (f"dataset d {{ rows = 5 }}\nfield body: text from p\nprompt p {{ system = {lits}\n"
            '  user = "Write a note." }\n')
    return {"files": {"spec.sds": spec}, "argv": ["check", "spec.sds"],
            **_outcome(sum(parts) <= MAX_TEMPLATE_CHARS, "SDS093"), "name": "long_template"}


def def_doubling(rng: random.Random) -> dict:
    """Predicates that each call the last two or three times, up to 60 levels, in a constraint or a derived field."""
    depth, fan = rng.choice([rng.randint(1, 12), rng.randint(1, 60)]), rng.choice([2, 2, 3])
    lines = [f"dataset d {{ rows = {rng.randint(1, 20)} }}", "def d0(x) = x > 1"]
    size = 3  # `a > 1`: the comparison, the field, the literal
    for i in range(1, depth + 1):
        lines.append(f"def d{i}(x) = " + " and ".join([f"d{i - 1}(x)"] * fan))
        size = fan * size + (fan - 1)  # the calls' bodies and the `and`s between them
    lines.append("field a: int in 1..5")
    lines.append(rng.choice([f"constraint c: d{depth}(a)", f"field b = d{depth}(a)"]))
    return {"files": {"spec.sds": "\n".join(lines) + "\n"}, "argv": ["check", "spec.sds"],
            **_outcome(size <= MAX_EXPR_NODES, "SDS094"), "name": "def_doubling"}


def def_chain(rng: random.Random) -> dict:
    """Predicates that each call the last once, up to 3,000 deep: small once inlined, but deeply nested."""
    depth = rng.choice([rng.randint(0, 40), rng.randint(0, 3000)])
    body = rng.choice(["not d{p}(x)", "d{p}(x)", "d{p}(x) or x == 3"])
    lines = [f"dataset d {{ rows = {rng.randint(1, 20)} }}", "def d0(x) = x > 1"]
    lines += [f"def d{i}(x) = " + body.format(p=i - 1) for i in range(1, depth + 1)]
    lines += ["field a: int in 1..5", f"constraint c: d{depth}(a)"]
    size = 3 + depth * {"not d{p}(x)": 1, "d{p}(x)": 0, "d{p}(x) or x == 3": 4}[body]
    ok = depth + 1 <= MAX_DEF_NESTING and size <= MAX_EXPR_NODES
    return {"files": {"spec.sds": "\n".join(lines) + "\n"}, "argv": ["check", "spec.sds"],
            "exits": {0} if ok else {2}, "code": None if ok else "SDS094", "name": "def_chain"}


def many_rows(rng: random.Random) -> dict:
    """`rows` from 1 to 10^12; a build past the limit must stop before its first call."""
    rows = rng.choice([1, 1000, MAX_ROWS, MAX_ROWS + 1, 10**7, 10**9, 10**12, rng.randint(1, 10**10)])
    spec = f"dataset d {{ rows = {rows} }}\nfield a: int in 1..5\nfield body: text from p\nprompt p {{ user = \"Note {{a}}.\" }}\n"
    ok = rows <= MAX_ROWS
    if ok:
        argv = ["check", "spec.sds"] if rows > 100_000 else ["plan", "spec.sds"]
    else:
        argv = rng.choice([["check", "spec.sds"], ["plan", "spec.sds"],
                           ["build", "spec.sds", "--endpoint", NOWHERE, "--model", "gpt-4o-mini", "--out", "out"]])
    return {"files": {"spec.sds": spec}, "argv": argv, **_outcome(ok, "SDS090"), "name": f"rows_{argv[0]}"}


def source_size(rng: random.Random) -> dict:
    """Spec files at, just past and far past the size limit, and a device that never ends."""
    kind = rng.choice(["at", "past", "device"])
    if kind == "device":
        return {"files": {}, "argv": ["check", "/dev/zero"], "exits": {2}, "code": "SDS003", "name": "dev_zero"}
    header = "dataset d { rows = 3 }\nfield a: bool\n"
    size = MAX_SOURCE_BYTES if kind == "at" else MAX_SOURCE_BYTES + rng.choice([1, 2, 1000, MAX_SOURCE_BYTES])
    line = "# " + "c" * rng.randint(10, 200) + "\n"
    body = (line * (size // len(line) + 1))[: size - len(header) - 1] + "\n"
    return {"files": {"spec.sds": header + body}, "argv": ["check", "spec.sds"],
            **_outcome(kind == "at", "SDS003"), "name": f"source_{kind}"}


def joint_cells(rng: random.Random) -> dict:
    """A joint table of two categories, up to about 7,000 cells."""
    na = rng.randint(1, 90)
    nb = rng.randint(max(1, (MAX_JOINT_CELLS - 400) // na), (MAX_JOINT_CELLS + 2000) // na + 1)
    a = ", ".join(f'"a{i}"' for i in range(na))
    b = ", ".join(f'"b{j}"' for j in range(nb))
    n = na * nb
    cells = "\n".join(f'  ("a{i}", "b{j}"): 1/{n}' for i in range(na) for j in range(nb))
    spec = f"dataset d {{ rows = 100 }}\nfield x: category [{a}]\nfield y: category [{b}]\njoint x, y {{\n{cells}\n}}\n"
    return {"files": {"spec.sds": spec}, "argv": ["check", "spec.sds"],
            **_outcome(n <= MAX_JOINT_CELLS, "SDS095"), "name": "joint_cells"}


def constraint_enumeration(rng: random.Random) -> dict:
    """A constraint that always holds, as large as inlining allows, over two ints with up to 2,000 values
    each: the check that it can hold enumerates combinations, so its work must be bounded by their product
    times the expression's size, not by either alone."""
    depth = rng.randint(0, 10)
    lines = [f"dataset d {{ rows = {rng.randint(1, 20)} }}", "def d0(x, y) = x + y > 1"]
    lines += [f"def d{i}(x, y) = d{i - 1}(x, y) and d{i - 1}(x, y)" for i in range(1, depth + 1)]
    na, nb = rng.randint(1, 1999), rng.randint(1, 1999)
    lines += [f"field a: int in 1..{na}", f"field b: int in 1..{nb}", f"constraint c: d{depth}(a, b)"]
    return {"files": {"spec.sds": "\n".join(lines) + "\n"}, "argv": ["check", "spec.sds"], "exits": {0},
            "code": None, "name": "constraint_enumeration"}


CASES = [int_range_quantiles, poisson_large_lambda, fragment_doubling, fragment_chain, long_template, def_doubling, def_chain,
         many_rows,
         source_size, joint_cells, constraint_enumeration]
