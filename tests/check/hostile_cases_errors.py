"""Hostile inputs of issue 11 part A, "internal errors" and "checked too late or silently wrong": each case
builds a spec (varied by `rng`) and the synthc command to run on it, with the exit codes the contract allows
and the diagnostic code that must be in the output. The harness (tests/check/test_hostile_fuzz.py, or
tests/tasks/test_hostile_errors.py until it lands) runs each in a fresh folder and also asserts: no traceback, no
Python warning, within 2 s of CPU and 500 MB.

Cases that need the fake server (a build's output paths checked before its first call) are ordinary tests in
tests/tasks/test_hostile_errors.py.
"""

from __future__ import annotations

import random

HEADER = "dataset d {\n  rows = 20\n  seed = 1\n}\n\n"
TEXT = 'field body: text from writer\nprompt writer {\n  user = "Write a sentence."\n}\n'


def _spec(body: str) -> dict[str, str]:
    return {"spec.sds": HEADER + body}


def _case(name: str, body: str, argv: list[str] | None = None, exits=frozenset({2}), code: str | None = None):
    return {"files": _spec(body), "argv": argv or ["check", "spec.sds"], "exits": set(exits), "code": code,
            "name": name}


def _huge(rng: random.Random) -> str:
    """A literal a double cannot hold: a big exponent, a tiny one, or 400+ digits."""
    kind = rng.choice(["exp", "tiny", "digits", "giant_exp"])
    if kind == "exp":
        return f"{rng.randint(1, 9)}e{rng.randint(309, 5000)}"
    if kind == "tiny":
        return f"{rng.randint(1, 9)}e-{rng.randint(401, 5000)}"
    if kind == "giant_exp":
        return f"1e{rng.randint(10**8, 10**12)}"  # must not build a billion-digit integer
    return str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(rng.randint(400, 6000)))


def overflowing_literal(rng: random.Random) -> dict:
    n = _huge(rng)
    body = rng.choice([
        f'field tier: category ~ {{\n  "a": {n}\n  "b": 50%\n}}\n',
        f"field w: float in 0..{n}\n",
        f"field w: float in 0..1 ~ normal(mean = {n}, sd = 1)\n",
        f"field a: int in 1..5\nfield w = a * {n}\n",
        f"field a: int in 1..5\nconstraint c: a < {n}\n",
        f'field tier: category ~ {{\n  "a": {n}%\n  "b": 50%\n}}\n',
        f"field on: bool ~ {n}/3\n",
    ])
    return _case("overflowing_literal", body, exits={2}, code="SDS031")


def _nested(kind: str, depth: int) -> str:
    if kind == "if":
        return "if a > 2 then 1 else " * depth + "0"
    if kind == "neg":
        return "-" * depth + "a"
    if kind == "sum":
        return "a" + " + a" * depth
    if kind == "product":
        return "a" + " * 1" * depth
    if kind == "call":
        return "abs(" * depth + "a" + ")" * depth
    if kind == "not":
        return "not " * depth + "a > 1"
    return "(" * depth + "a" + ")" * depth  # parentheses are no level


def deep_nesting(rng: random.Random) -> dict:
    kind = rng.choice(["if", "neg", "sum", "product", "call", "not", "object_type"])
    depth = rng.choice([rng.randint(101, 300), rng.randint(1000, 5000)])
    if kind == "object_type":
        body = ("field o: " + "object { x: " * depth + "int in 1..3" + " }" * depth + " from writer\n"
                'prompt writer {\n  user = "Write."\n}\n')
    elif kind == "not":
        body = f"field a: int in 1..5\nconstraint c: {_nested(kind, depth)}\n"
    else:
        body = f"field a: int in 1..5\nfield b = {_nested(kind, depth)}\n"
    return _case(f"deep_{kind}", body, exits={2}, code="SDS032")


def deep_declarations(rng: random.Random) -> dict:
    """Nesting through declarations: predicates calling predicates, one calling another twice (which doubles
    at every level), derived fields reading fields declared after them."""
    kind = rng.choice(["def_chain", "def_doubling", "derived_chain"])
    n = rng.randint(70, 400)
    if kind == "def_chain":
        body = "field a: int in 1..5\n" + "".join(f"def f{i}(x) = f{i + 1}(x)\n" for i in range(n))
        body += f"def f{n}(x) = x > 1\nconstraint c: f0(a)\n"
    elif kind == "def_doubling":
        depth = rng.randint(20, 31)
        body = "field a: int in 1..5\ndef f0(x) = x > 1\n"
        body += "".join(f"def f{i}(x) = f{i - 1}(x) and f{i - 1}(x)\n" for i in range(1, depth + 1))
        body += f"constraint c: f{depth}(a)\n"
    else:
        body = "".join(f"field b{i} = b{i + 1} + 1\n" for i in range(n)) + f"field b{n}: int in 1..5\n"
    # predicates: the limits of LANGUAGE.md "Limits" (SDS094); derived fields: nesting (SDS032)
    return _case(f"deep_{kind}", body, exits={2}, code="SDS032" if kind == "derived_chain" else "SDS094")


def deep_parentheses(rng: random.Random) -> dict:
    depth = rng.randint(200, 5000)
    return _case("deep_parentheses", f"field a: int in 1..5\nfield b = {_nested('parens', depth)}\n",
                 exits={0}, code=None)


def emit_batch_to_a_directory(rng: random.Random) -> dict:
    target = rng.choice(["/", ".", "sub", "spec.sds/x.jsonl"])
    files = _spec("field a: int in 1..5\n" + TEXT)
    files["sub/keep.txt"] = "a folder where the batch file should go"
    return {"files": files, "argv": ["plan", "spec.sds", "--emit-batch", target], "exits": {2}, "code": None,
            "name": "emit_batch_unwritable"}


def division_by_zero_range(rng: random.Random) -> dict:
    lo, hi = rng.randint(-5, 0), rng.randint(0, 5)
    kind = rng.choice(["int", "float"])
    num = rng.choice(["10", "a", "2.5"])
    body = f"field a: {kind} in 1..3\nfield z: {kind} in {lo}..{hi}\nfield b = {num} / z\n"
    # a warning: exit 0, and exit 1 with --strict; plan must not crash either
    argv = rng.choice([["check", "--strict", "spec.sds"], ["check", "spec.sds"], ["plan", "spec.sds", "--json"]])
    exits = {1} if "--strict" in argv else {0}
    return {"files": _spec(body), "argv": argv, "exits": exits, "code": None if argv[0] == "plan" else "SDS155",
            "name": "division_by_zero_range"}


def overflowing_arithmetic(rng: random.Random) -> dict:
    big = f"{rng.randint(1, 9)}e{rng.randint(200, 308)}"
    body = f"field a: float in 1..10\nfield b = a * {big} * {big}\n"
    return _case("overflowing_arithmetic", body, argv=["plan", "spec.sds", "--json"], exits={0})


BAD_PATTERNS = ["a{2000}", "x{1,1001}", r"\.\Z", "[[:alpha:]]+", "[[:digit:]]{3}", "a++", "(?>ab)", "[a-z&&[^q]]",
                "[[a]", "x*+"]


def regex_duckdb_reads_differently(rng: random.Random) -> dict:
    pattern = rng.choice(BAD_PATTERNS).replace("\\", "\\\\")
    argv = rng.choice([["check", "spec.sds"], ["check", "--format", "json", "spec.sds"]])
    return _case("regex", TEXT + f'constraint c: matches(body, "{pattern}")\n', argv=argv, exits={2},
                 code="SDS034")


RESERVED = ["_id", "_origin", "_row", "_", "_stratum", "__x"]


def reserved_field_name(rng: random.Random) -> dict:
    name = rng.choice(RESERVED + ["_" + "".join(rng.choice("abcxyz") for _ in range(rng.randint(1, 8)))])
    body = rng.choice([f"field {name}: int in 1..5\n", f"field a: int in 1..5\nfield {name} = a + 1\n",
                       f"field {name}: text from writer\n" + TEXT.split("\n", 1)[1]])
    return _case("reserved_name", body, exits={2}, code="SDS033")


def distribution_without_mass(rng: random.Random) -> dict:
    hi = -rng.randint(1, 50)
    lo = hi - rng.randint(0, 100)
    body = rng.choice([
        f"field x: float in {lo}..{hi} ~ lognormal(mu = {rng.randint(-3, 3)}, sigma = {rng.randint(1, 3)})\n",
        f"field x: int in {lo}..{hi} ~ lognormal(mu = 0, sigma = 1)\n",
        f"field x: int in {lo}..{hi} ~ poisson(lambda = {rng.randint(1, 20)})\n",
        f"field x: float in {10**6}..{10**7} ~ lognormal(mu = 0, sigma = 0.1)\n",
    ])
    return _case("no_mass", body, exits={2}, code="SDS015")


EXTREME_NUMBERS = [
    ("int in 0..1000000000000 ~ poisson(lambda = 3)", 0, None),  # a table of 60 counts, not of 10^12
    ("int in 0..1000000000000 ~ poisson(lambda = 1e12)", 2, "SDS092"),  # LANGUAGE.md Limits: lambda <= 10^6
    ("float in 0..1e300 ~ lognormal(mu = 600, sigma = 1)", 0, None),
    ("float in 0..1e300 ~ lognormal(mu = 700, sigma = 1)", 2, "SDS092"),  # |mu| + 8 sigma > 700
    ("float in -1e300..1e300 ~ normal(mean = 0, sd = 1e14)", 0, None),
    ("float in -1e300..1e300 ~ normal(mean = 0, sd = 1e300)", 2, "SDS092"),  # a parameter above 1e15
    ("float in -1e308..1e308", 2, "SDS091"),  # bounds above 1e300
    ("int in 0..100000000000000000000", 2, "SDS091"),  # beyond 64 bits
    ("float in 1e-300..1e-299", 0, None),
]


def extreme_numeric_field(rng: random.Random) -> dict:
    field, exit_code, code = rng.choice(EXTREME_NUMBERS)
    body = f"field x: {field}\n" + TEXT.replace("Write a sentence.", "Write about {x}.")
    return _case("extreme_numeric", body, argv=rng.choice([["check", "spec.sds"], ["plan", "spec.sds", "--json"]]),
                 exits={exit_code}, code=code)


def percent_with_exponent(rng: random.Random) -> dict:
    a = rng.randint(1, 99)
    body = f'field tier: category ~ {{\n  "a": {a / 100}e2%\n  "b": {100 - a}e0%\n}}\n'
    return _case("percent_exponent", body, exits={0})


def infeasible_shares_in_check(rng: random.Random) -> dict:
    values = ["a", "b", "c", "d"][: rng.randint(2, 4)]
    banned = rng.choice(values)
    shares = "\n".join(f'  "{v}": 1/{len(values)}' for v in values)
    body = f"field mood: category ~ {{\n{shares}\n}}\nconstraint no_{banned}: mood != \"{banned}\"\n"
    return _case("infeasible_in_check", body, exits={2}, code="SDS029")


def tvd_bound_unreachable(rng: random.Random) -> dict:
    k = rng.randint(3, 7)
    n = rng.choice([r for r in range(10, 40) if r % k])  # N not a multiple of k: 1/k of N is never whole
    shares = "\n".join(f'  "v{i}": 1/{k}' for i in range(k))
    best = (n % k) * (k - n % k) / (k * n)  # the tvd of the rounding: every count is floor or ceil of N/k
    limit = round(best * rng.uniform(0.1, 0.9) * 100, 2)
    body = f"field f: category ~ {{\n{shares}\n}}\nconstraint close: tvd(f) <= {limit}%\n"
    argv = rng.choice([["check", "spec.sds"], ["plan", "spec.sds"]])
    return {"files": {"spec.sds": f"dataset d {{\n  rows = {n}\n}}\n\n" + body}, "argv": argv, "exits": {2},
            "code": "SDS035", "name": "tvd_unreachable"}


CASES = [overflowing_literal, deep_nesting, deep_declarations, deep_parentheses, emit_batch_to_a_directory,
         division_by_zero_range, overflowing_arithmetic, extreme_numeric_field, regex_duckdb_reads_differently,
         reserved_field_name, distribution_without_mass, percent_with_exponent, infeasible_shares_in_check,
         tvd_bound_unreachable]
