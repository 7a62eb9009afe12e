"""`synthc check` on bad input: bad files and mutated specs give diagnostics and exit 2, never a traceback."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthc.cli import main

REPO = Path(__file__).resolve().parents[2]
GOOD = 'dataset d {\n  rows = 10\n}\n\nfield colour: category ["red", "blue"]\n'


@pytest.fixture(autouse=True)
def plain(monkeypatch):
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)


def _check(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_rejected(code: int, err: str, want: str = "SDS003") -> None:
    assert code == 2
    assert f"error[{want}]" in err
    assert "Traceback" not in err and "internal error" not in err


# ---- bad files -------------------------------------------------------------------


def _garbage(n: int) -> bytes:
    return random.Random(20240601).randbytes(n)


BAD_FILES = {
    "empty": b"",
    "whitespace_only": b"  \n\t\n   \n",
    "binary_with_nul_bytes": b"dataset d {\x00\x01\x02 rows = 10 }\n",
    "latin1_not_utf8": 'dataset caf\u00e9 {\n  rows = 10\n}\n'.encode("latin-1"),
    "ten_megabytes_of_garbage": _garbage(10 * 1024 * 1024),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_file_is_a_diagnostic_not_a_traceback(name, tmp_path, capsys):
    path = tmp_path / f"{name}.sds"
    path.write_bytes(BAD_FILES[name])
    _assert_rejected(*_check(capsys, str(path))[::2])


def test_missing_file(tmp_path, capsys):
    code, _, err = _check(capsys, str(tmp_path / "nope.sds"))
    _assert_rejected(code, err)
    assert "no such file" in err


def test_directory(tmp_path, capsys):
    code, _, err = _check(capsys, str(tmp_path))
    _assert_rejected(code, err)
    assert "directory" in err


def test_megabyte_of_printable_garbage_under_the_size_limit(tmp_path, capsys):
    """Under the size limit the parser itself meets the garbage: still syntax diagnostics, not a crash."""
    rnd = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz{}[]()=:~,.\"%# \n0123456789"
    path = tmp_path / "junk.sds"
    path.write_text("".join(rnd.choice(alphabet) for _ in range(1_000_000)), encoding="utf-8")
    code, _, err = _check(capsys, str(path))
    assert code == 2
    assert re.search(r"^error\[SDS00[12]\]", err, re.M)
    assert "Traceback" not in err and "internal error" not in err


def test_utf8_bom_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.sds"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    code, _, err = _check(capsys, str(path))
    assert (code, err) == (0, "ok: 1 spec checked\n")


def test_bad_file_as_json(tmp_path, capsys):
    code, out, _ = _check(capsys, str(tmp_path / "nope.sds"), "--format", "json")
    assert code == 2
    assert [d["code"] for d in json.loads(out)["diagnostics"]] == ["SDS003"]


# ---- mutated specs ---------------------------------------------------------------

# Strings (long ones first), comments, names, numbers with their % or date form, then any other character.
_TOKEN = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|[A-Za-z_]\w*'
                    r'|\d{4}-\d{2}-\d{2}|\d+(?:\.\d+)?%?|\.\.|=>|[=!<>]=|\S', re.S)


def _seeds() -> list[Path]:
    files = sorted((REPO / "specs" / "valid").glob("*.sds")) + sorted((REPO / "examples").rglob("*.sds"))
    return [p for p in files if p.stat().st_size > 0]


SEEDS = _seeds()


def _beside(seed: Path, tmp_path_factory) -> Path:
    """A file to write a mutant of `seed` to, in a copy of the seed's folder so that its relative imports (and a
    reference's `data/` files) resolve."""
    folder = tmp_path_factory.getbasetemp() / "seeds" / seed.parent.relative_to(REPO)
    if not folder.exists():
        folder.mkdir(parents=True)
        for p in seed.parent.glob("*.sds"):
            (folder / p.name).write_bytes(p.read_bytes())
        if (seed.parent / "data").is_dir():  # the file a `reference` reads
            shutil.copytree(seed.parent / "data", folder / "data")
    return folder / f"mutated_{seed.name}"


def _tokens(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _TOKEN.finditer(text)]


@st.composite
def mutated(draw) -> tuple[Path, bytes]:
    """A valid spec with one mutation: a token deleted, duplicated or swapped with the next, random text or
    bytes inserted, or the file cut short."""
    seed = draw(st.sampled_from(SEEDS))
    text = seed.read_text(encoding="utf-8")
    spans = _tokens(text)
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert_text", "insert_bytes", "truncate"]))
    i = draw(st.integers(0, len(spans) - 2))
    (a, b), (c, d) = spans[i], spans[i + 1]
    if kind == "delete":
        out = text[:a] + text[b:]
    elif kind == "duplicate":
        out = text[:b] + " " + text[a:b] + text[b:]
    elif kind == "swap":
        out = text[:a] + text[c:d] + text[b:c] + text[a:b] + text[d:]
    elif kind == "insert_text":
        out = text[:a] + draw(st.text(min_size=1, max_size=8)) + text[a:]
    elif kind == "truncate":
        out = text[:a]
    else:
        raw = text.encode("utf-8")
        at = len(text[:a].encode("utf-8"))
        return seed, raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return seed, out.encode("utf-8")


MUTATIONS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@MUTATIONS
@given(case=mutated())
def test_mutated_spec_never_crashes_the_checker(case, tmp_path_factory, capsys):
    seed, source = case
    path = _beside(seed, tmp_path_factory)
    path.write_bytes(source)
    code, _, err = _check(capsys, str(path))
    assert code in (0, 1, 2), f"exit {code}:\n{err}"
    assert "Traceback" not in err and "internal error" not in err
    if code == 2:
        assert re.search(r"^error\[SDS\d{3}\]", err, re.M), err


@MUTATIONS
@given(case=mutated())
def test_mutated_spec_as_json_is_valid_json(case, tmp_path_factory, capsys):
    seed, source = case
    path = _beside(seed, tmp_path_factory)
    path.write_bytes(source)
    code, out, err = _check(capsys, str(path), "--format", "json")
    assert code in (0, 1, 2), f"exit {code}:\n{err}"
    diags = json.loads(out)["diagnostics"]
    assert isinstance(diags, list)
    if code == 2:
        assert any(d["severity"] == "error" and re.fullmatch(r"SDS\d{3}", d["code"]) for d in diags)


def test_seed_specs_are_valid(tmp_path_factory, capsys):
    """The mutants start from specs that check where they are copied, so every error comes from a mutation."""
    assert len(SEEDS) >= 20
    for seed in SEEDS:
        path = _beside(seed, tmp_path_factory)
        path.write_bytes(seed.read_bytes())
        code, _, err = _check(capsys, str(path))
        assert code == 0, f"{seed}:\n{err}"
