"""The labelled bad snippets of syntax_hints.py: text failing like a snippet gets its label as the hint."""

from __future__ import annotations

import pytest

from synthc.syntax import parse
from synthc.syntax_hints import EXAMPLES

CASES = [  # (text, a word of the hint): variants of the snippets, not the snippets themselves
    ('field plan category ["free"]\n', "`:` and its type"),
    ("dataset d {\n  seed 3\n}\n", "`name = value`"),
    ('prompt q {\n  system: "x"\n}\n', "`name = value`"),
    ("constraint c mean(x) > 1\n", "constraint NAME: EXPRESSION"),
]


@pytest.mark.parametrize("text,word", CASES)
def test_a_variant_of_a_snippet_gets_its_hint(text, word):
    module, diags = parse(text, "x.sds")
    assert module is None and diags[0].code == "SDS001"
    assert word in (diags[0].hint or "")


def test_every_snippet_fails_to_parse_and_gets_its_own_label():
    for label, snippets in EXAMPLES.items():
        for snippet in snippets:
            module, diags = parse(snippet, "x.sds")
            assert module is None and diags[0].hint == label, snippet


def test_an_error_no_snippet_matches_keeps_the_generic_hint():
    _, diags = parse('field x: category ["a" "b"\n', "x.sds")
    assert diags and not any(d.hint in EXAMPLES for d in diags)
