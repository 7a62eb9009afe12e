"""Syntax-error hints as data: labelled bad snippets. lark's `UnexpectedInput.match_examples` finds the snippet
that fails in the same parser state as the user's text, and its label is the hint. A new hint is a new entry;
an error no snippet matches keeps the generic hint (syntax.py: what was expected there)."""

from __future__ import annotations

from typing import Callable, Optional

from lark.exceptions import UnexpectedInput

EXAMPLES: dict[str, list[str]] = {
    "a field's name is followed by `:` and its type, e.g. `field tier: category [\"free\", \"pro\"]`": [
        'field tier category ["a", "b"]\n',
        "field x int in 1..5\n",
    ],
    "settings are written `name = value`, e.g. `rows = 200`": [
        "dataset d {\n  rows 200\n}\n",
        "dataset d {\n  rows: 200\n}\n",
        'prompt p {\n  user: "hi"\n}\n',
    ],
    "a constraint is `constraint NAME: EXPRESSION`, e.g. `constraint short: word_count(body) <= 60`": [
        "constraint short word_count(body) <= 5\n",
    ],
}


def hint_for(error: UnexpectedInput, parse: Callable[[str], object]) -> Optional[str]:
    """The hint of the labelled snippet that fails like `error`, or None."""
    try:
        return error.match_examples(parse, EXAMPLES, use_accepts=True)
    except Exception:  # a hint is an aid for the message only
        return None
