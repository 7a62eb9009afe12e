"""Hostile inputs of issue 22, as case generators for tests/check/test_hostile_fuzz.py: long chains of derived
fields (SDS096), NaN and Infinity in the data files of `validate` and `eval`, symbolic link loops and folders as
reference and import paths, `per` over fields of many values (SDS060), and joint tables far past their limit
(SDS095, refused before the whole spec is parsed). Format: see the docstring of tests/check/test_hostile_fuzz.py.
"""

from __future__ import annotations

import json
import random

from synthc.limits import MAX_DERIVED_DEPTH, MAX_JOINT_CELLS

PER_VALUES = 1000  # LANGUAGE.md, "Content quality": `per` groups rows by at most 1,000 values

HEADER = "dataset d {\n  rows = 20\n  seed = 1\n}\n"


def derived_chain(rng: random.Random) -> dict:
    """`field x1 = x0 + 1` ... `xN`: a chain of 3,000 crashed `build` (no prompt: no call); within the limit,
    planned (a build's own fixed cost, DuckDB and the report, is near the 2 s bound by itself)."""
    n = rng.choice([5, MAX_DERIVED_DEPTH, MAX_DERIVED_DEPTH + 1, 300, 3000])
    spec = HEADER + "field x0: int in 1..5\n" + "".join(f"field x{i} = x{i - 1} + 1\n" for i in range(1, n + 1))
    ok = n <= MAX_DERIVED_DEPTH
    argv = ["plan", "spec.sds"] if ok else ["build", "spec.sds", "--out", "out"]
    return {"files": {"spec.sds": spec}, "argv": argv,
            "exits": {0} if ok else {2}, "code": None if ok else "SDS096", "name": f"derived_chain_{n}"}


NUMBERS_SPEC = (HEADER + 'field label: category ~ {\n  "a": 50%\n  "b": 50%\n}\nfield score: float in 0..10\n'
                'field body: text from p\nprompt p { user = "Write about {label}." }\n')


def not_finite_in_data(rng: random.Random) -> dict:
    """NaN or Infinity in a float column of DATA or --real: validate says so (exit 1), eval refuses (exit 2)."""
    bad = rng.choice(["NaN", "Infinity", "-Infinity"])
    csv = rng.random() < 0.5
    rows = [("a", "2.5", "good day to you"), ("b", bad, "hello there friend"), ("a", "1.0", "fine thanks")]
    if csv:
        name = "data.csv"
        text = "_id,label,score,body\n" + "".join(f"{i},{a},{b},{c}\n" for i, (a, b, c) in enumerate(rows))
    else:
        name = "data.jsonl"
        text = "".join(f'{{"_id": "{i}", "label": "{a}", "score": {b}, "body": "{c}"}}\n' for i, (a, b, c) in enumerate(rows))
    command = rng.choice(["validate", "eval", "eval_real"])
    if command == "validate":
        argv, exits = ["validate", "spec.sds", name], {1}
    elif command == "eval":
        good = "".join(json.dumps({"label": a, "score": 1.5, "body": c}) + "\n" for a, _, c in rows)
        argv, exits = ["eval", "spec.sds", name, "--real", "real.jsonl"], {2}
        return {"files": {"spec.sds": NUMBERS_SPEC, name: text, "real.jsonl": good}, "argv": argv, "exits": exits,
                "code": None, "name": f"not_finite_{command}"}
    else:
        good = "".join(json.dumps({"_id": str(i), "label": a, "score": 1.5, "body": c}) + "\n"
                       for i, (a, _, c) in enumerate(rows))
        argv, exits = ["eval", "spec.sds", "good.jsonl", "--real", name], {2}
        return {"files": {"spec.sds": NUMBERS_SPEC, name: text, "good.jsonl": good}, "argv": argv, "exits": exits,
                "code": None, "name": f"not_finite_{command}"}
    return {"files": {"spec.sds": NUMBERS_SPEC, name: text}, "argv": argv, "exits": exits, "code": None,
            "name": f"not_finite_{command}"}


def looping_paths(rng: random.Random) -> dict:
    """A reference or an import path that is a symbolic link loop (or a folder): a diagnostic, never exit 70."""
    kind = rng.choice(["reference_loop", "reference_pair", "reference_folder", "import_loop"])
    body = 'field body: text from p\nprompt p { user = "Write." }\n'
    files: dict = {}
    if kind == "import_loop":
        files = {"a.sds": ("symlink", "b.sds"), "b.sds": ("symlink", "a.sds")}
        spec = 'from "./a.sds" import x\n' + HEADER + body
        code = "SDS020"
    else:
        target = "rows.jsonl"
        if kind == "reference_loop":
            files = {target: ("symlink", target)}
        elif kind == "reference_pair":
            files = {target: ("symlink", "other.jsonl"), "other.jsonl": ("symlink", target)}
        else:
            files = {f"{target}/x.jsonl": '{"text": "a"}\n'}
        spec = HEADER + f'reference real from "{target}" {{\n  text -> body\n}}\n' + body
        code = "SDS080"
    files["spec.sds"] = spec
    return {"files": files, "argv": [rng.choice(["check", "plan"]), "spec.sds"], "exits": {2}, "code": code,
            "name": kind}


def big_per_groups(rng: random.Random) -> dict:
    """`per` over a category, an enum or an int of many values: at most 1,000 (SDS060)."""
    n = rng.choice([10, PER_VALUES, PER_VALUES + 1, 10_000])
    kind = rng.choice(["category", "int"])
    if kind == "category":
        field = "field g: category [" + ", ".join(f'"v{i}"' for i in range(n)) + "]\n"
    else:
        field = f"field g: int in 1..{n}\n"
    spec = (HEADER + field + 'field body: text from p\nprompt p { user = "Write about {g}." }\n'
            "constraint c: mean(word_count(body)) >= 3 per g\n")
    ok = n <= PER_VALUES
    return {"files": {"spec.sds": spec}, "argv": ["check", "spec.sds"], "exits": {0} if ok else {2},
            "code": None if ok else "SDS060", "name": f"per_{kind}_{n}"}


def huge_joint(rng: random.Random) -> dict:
    """A joint table far past 5,000 cells, up to 1.8 MB: refused before the spec is parsed in full."""
    n = rng.choice([72, 150, 270])
    values = ", ".join(f'"{i}"' for i in range(n))
    cells = "".join(f'  ("{i}", "{j}"): 1/{n * n}\n' for i in range(n) for j in range(n))
    spec = (HEADER + f"field a: category [{values}]\nfield b: category [{values}]\njoint a, b {{\n{cells}}}\n")
    assert n * n > MAX_JOINT_CELLS
    return {"files": {"spec.sds": spec}, "argv": ["check", "spec.sds"], "exits": {2}, "code": "SDS095",
            "name": f"joint_{n}x{n}"}


CASES = [derived_chain, not_finite_in_data, looping_paths, big_per_groups, huge_joint]
