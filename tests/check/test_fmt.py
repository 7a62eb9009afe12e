"""fmt: canonical layout, comments kept, idempotent, and meaning-preserving (same IR before and after)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings, strategies as st

from synthc.check import check_file
from synthc.cli import main
from synthc.fmt import format_source

ROOT = Path(__file__).resolve().parents[2]


def _ir(tmp: Path, name: str, text: str) -> str | None:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    result = check_file(path, name)
    return result.spec.canonical_json() if result.spec else None


def _codes(tmp: Path, name: str, text: str) -> list[tuple[str, str]]:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return sorted((d.code, d.message) for d in check_file(path, name).diagnostics)


# ---- generated specs -------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s not in {"if", "then", "else", "and", "or", "not", "in", "true", "false", "from", "import", "as",
                        "field", "dataset", "joint", "fragment", "prompt", "constraint", "def", "given"})
labels = st.text(alphabet="abcxyz \"\\é-", min_size=1, max_size=6)
comment = st.text(alphabet="abc #{}\"é", max_size=12).map(lambda s: "# " + s)
ws = st.sampled_from([" ", "  ", "\n", " \n  ", "\n\n"])


def _shares(n: int) -> list[str]:
    base = [f"{100 // n}%"] * n
    base[-1] = f"{100 - (100 // n) * (n - 1)}%"
    return base


@st.composite
def specs(draw) -> str:
    """A spec with random names, values, layout, commas and comments: valid or not, always parseable."""
    sep = lambda: draw(ws)  # noqa: E731
    out = []
    if draw(st.booleans()):
        out.append(draw(comment) + "\n")
    out.append(f"dataset {draw(names)} {{{sep()}rows = {draw(st.integers(1, 5000))}{draw(st.sampled_from([',', '']))}"
               f"{sep()}seed = {draw(st.integers(0, 99))}{sep()}}}\n")
    fields = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    cats = {}
    for i, name in enumerate(fields):
        kind = draw(st.sampled_from(["cat", "int", "bool", "float", "derived"]))
        if i == 0 or kind == "cat":
            values = draw(st.lists(labels, min_size=1, max_size=4, unique=True))
            cats[name] = values
            entries = [f'"{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}": {s}'
                       for v, s in zip(values, _shares(len(values)))]
            joiner = draw(st.sampled_from([", ", "\n  ", " "]))
            out.append(f"field {name}: category ~ {{{joiner.join(entries)}}}")
        elif kind == "int":
            lo = draw(st.integers(-5, 5))
            out.append(f"field {name}: int in {lo}..{lo + draw(st.integers(0, 9))}")
        elif kind == "bool":
            out.append(f"field {name}: bool ~ {draw(st.integers(0, 100))}%")
        elif kind == "float":
            out.append(f"field {name}: float in 0..{draw(st.integers(1, 9))}.5 ~ normal(mean = 1, sd = 0.5)")
        else:
            out.append(f"field {name} = if {fields[0]} == \"x\" then \"a\" else \"b\"")
        if draw(st.booleans()):
            out[-1] += "  " + draw(comment)
        out.append(sep())
    for j in range(draw(st.integers(0, 3))):
        a = draw(st.sampled_from(fields))
        op = draw(st.sampled_from(["==", "!=", "=>", "and", "or"]))
        if op in ("==", "!="):
            body = f"{a} {op} {draw(st.integers(0, 3))}"
        else:
            body = f"({a} == 1 {op} not ({a} != 2)) {op} true"
        out.append(f"constraint c{j}: {body}\n")
    if draw(st.booleans()):  # structured outputs: members (nested, parenthesized, spaced) and list membership
        out.append(f"field objfield: object {{{sep()}k: enum [\"x\", \"y\"]{sep()}inner: object {{ n: int in 0..9 }}"
                   f"{sep()}}} from pr\nfield listfield: list[enum [\"x\", \"y\"]] from pr\n"
                   f"prompt pr {{ user = \"Write.\" }}")
        dot = lambda: draw(st.sampled_from([".", " . ", "\n."]))  # noqa: E731
        bodies = [f"objfield{dot()}k == \"x\"", f"(objfield{dot()}inner){dot()}n > 3",
                  f"\"x\" {draw(st.sampled_from(['in', 'not in']))} listfield",
                  f"objfield{dot()}k == \"y\" => (\"y\" in listfield)"]
        for j, body in enumerate(draw(st.lists(st.sampled_from(bodies), min_size=1, max_size=3))):
            out.append(f"constraint s{j}: {body}\n")
    if draw(st.booleans()):
        out.append(draw(comment))
    return "\n".join(out)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(specs())
def test_fmt_is_idempotent_and_keeps_meaning(tmp_path_factory, text):
    tmp = tmp_path_factory.mktemp("fmt")
    once, diags = format_source(text, "spec.sds")
    assert not diags, diags
    twice, _ = format_source(once, "spec.sds")
    assert twice == once
    # meaning: the same IR when the spec checks, the same diagnostics (codes and messages) when it does not
    assert _ir(tmp, "spec.sds", once) == _ir(tmp, "spec.sds", text)
    assert _codes(tmp, "spec.sds", once) == _codes(tmp, "spec.sds", text)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(specs())
def test_fmt_keeps_every_comment(text):
    from synthc.syntax import parse

    before, _ = parse(text, "spec.sds")
    formatted, _ = format_source(text, "spec.sds")
    after, _ = parse(formatted, "spec.sds")
    assert [c.text for c in before.comments] == [c.text for c in after.comments]


# ---- layout --------------------------------------------------------------------------


def test_share_tables_are_one_entry_per_line():
    text = 'dataset d { rows = 10 }\nfield s: category ~ {"a": 50%, "b": 30%, "c": 20%}\n'
    formatted, _ = format_source(text, "x.sds")
    assert formatted == ('dataset d {\n  rows = 10\n}\n\n'
                         'field s: category ~ {\n  "a": 50%\n  "b": 30%\n  "c": 20%\n}\n')


def test_multi_line_strings_keep_their_text():
    text = 'dataset d { rows = 1 }\nfragment f = """line one\n  indented two"""\n'
    formatted, _ = format_source(text, "x.sds")
    assert '"""line one\n  indented two"""' in formatted


def test_redundant_parentheses_go_and_needed_ones_stay():
    text = ("dataset d { rows = 1 }\nfield a: int in 1..5\nfield b: int in 1..5\n"
            "constraint c: ((a + 1) * 2 > b) => (a == 1 or b == 2) => a != 3\n")
    formatted, _ = format_source(text, "x.sds")
    assert "constraint c: (a + 1) * 2 > b => a == 1 or b == 2 => a != 3" in formatted


def test_fmt_check_exit_codes(tmp_path, capsys):
    ugly = tmp_path / "ugly.sds"
    ugly.write_text("dataset d {rows=1}\n", encoding="utf-8")
    assert main(["fmt", "--check", str(ugly)]) == 1
    assert ugly.read_text() == "dataset d {rows=1}\n"  # --check changes nothing
    assert main(["fmt", str(ugly)]) == 0
    assert main(["fmt", "--check", str(ugly)]) == 0
    broken = tmp_path / "broken.sds"
    broken.write_text("dataset d {\n", encoding="utf-8")
    assert main(["fmt", str(broken)]) == 2
    assert "error[SDS001]" in capsys.readouterr().err


def test_repository_specs_are_formatted():
    """Every spec we ship to users (examples, stdlib) is in canonical form. (The corpus is not: some of its
    cases test layouts fmt would change.)"""
    files = sorted([*ROOT.glob("examples/**/*.sds"), *ROOT.glob("stdlib/*.sds")])
    assert files, "no shipped specs found"
    unformatted = [str(f.relative_to(ROOT)) for f in files
                   if format_source(f.read_text(encoding="utf-8"), str(f))[0] != f.read_text(encoding="utf-8")]
    assert not unformatted, f"run `synthc fmt` on: {unformatted}"


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet='ab\\"\n\t\r{}é ', max_size=12), st.booleans())
def test_string_literals_read_back_as_the_same_value(value, long):
    from synthc.fmt import string
    from synthc.syntax import parse

    module, diags = parse(f"fragment f = {string(value, long)}\n", "x.sds")
    assert not diags, (string(value, long), diags)
    assert module.decls[0].expr.value == value
