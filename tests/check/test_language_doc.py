"""Every ```sds block in LANGUAGE.md checks as the document says it does.

Conventions (stated at the top of LANGUAGE.md):
- a block with a `dataset` header must check with no errors;
- a block without one is checked with `dataset doc { rows = 100 }` in front of it, and must check with no errors;
- a block whose first line is `# error: SDSnnn` must produce that error, and no error of another code;
  `# warning: SDSnnn` must produce that warning and no error.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from synthc.check import check_file
from synthc.diagnostics import CODES, render_plain

DOC = Path(__file__).resolve().parents[2] / "LANGUAGE.md"
PRELUDE = "dataset doc { rows = 100 }\n"
REFERENCE_DATA = DOC.parent / "examples" / "package_descriptions" / "data"
_HEADER = re.compile(r"^\s*dataset\s+[A-Za-z_]\w*\s*\{", re.M)
_EXPECT = re.compile(r"#\s*(error|warning):\s*(SDS\d{3})\s*$")


def _blocks(doc: Path = DOC) -> list[tuple[int, str]]:
    """(line of the opening fence, code) for every block fenced with ```sds."""
    if not doc.exists():
        return []
    out, start, body = [], None, []
    for n, line in enumerate(doc.read_text(encoding="utf-8").split("\n"), 1):
        if start is None:
            if line.strip() == "```sds":
                start, body = n, []
        elif line.strip() == "```":
            out.append((start, "\n".join(body) + "\n"))
            start = None
        else:
            body.append(line)
    return out


BLOCKS = _blocks()


def test_the_document_exists_and_has_checked_blocks():
    assert DOC.exists(), f"{DOC} is missing: it is the language reference, and its examples are tests"
    assert BLOCKS, "LANGUAGE.md has no ```sds blocks: are they tagged `sds`?"


def test_the_document_lists_every_error_code():
    text = DOC.read_text(encoding="utf-8")
    assert [c for c in CODES if c not in text] == []


@pytest.mark.parametrize("line,code", BLOCKS, ids=[f"LANGUAGE.md:{n}" for n, _ in BLOCKS])
def test_block_checks_as_documented(line: int, code: str, tmp_path: Path):
    first = code.split("\n", 1)[0]
    expect = _EXPECT.match(first.strip())
    text = code if _HEADER.search(code) or (expect and expect[2] == "SDS004") else PRELUDE + code
    path = tmp_path / "block.sds"
    path.write_text(text, encoding="utf-8")
    shutil.copytree(REFERENCE_DATA, tmp_path / "data")  # the blocks on reference data read data/packages.jsonl
    result = check_file(path, f"LANGUAGE.md:{line}", targets=True)  # as `synthc check` does
    shown = render_plain(result.diagnostics, result.sources)
    errors = {d.code for d in result.diagnostics if d.is_error}
    if expect is None:
        assert not errors, f"the block at LANGUAGE.md:{line} should check, but:\n{shown}"
        return
    severity, wanted = expect.groups()
    produced = {d.code for d in result.diagnostics if d.severity == severity}
    assert wanted in produced, f"the block at LANGUAGE.md:{line} should give {severity} {wanted}, got:\n{shown or 'nothing'}"
    other = errors - {wanted}
    assert not other, f"the block at LANGUAGE.md:{line} gives other errors too:\n{shown}"


README = DOC.parent / "README.md"


@pytest.mark.parametrize("line,code", _blocks(README), ids=[f"README.md:{n}" for n, _ in _blocks(README)])
def test_readme_specs_check_clean_and_formatted(line: int, code: str, tmp_path: Path):
    """The README's specs are complete and are what a user copies first: no errors, no warnings, canonical."""
    from synthc.fmt import format_source

    path = tmp_path / "readme.sds"
    path.write_text(code, encoding="utf-8")
    result = check_file(path, f"README.md:{line}", targets=True)
    assert result.spec is not None and not result.diagnostics, render_plain(result.diagnostics, result.sources)
    assert format_source(code, "readme.sds")[0] == code
