"""Token and cost estimates: a plain heuristic, good to a few tens of percent, stated before anything is spent.

Prompt tokens: the requests of a 1-, 2- and 3-row call are rendered by `requests` (so the estimate follows the
real message layout, docs/BUILD.md "Request format") with the longest value each input can take, every row on
its own line with all its values (an upper bound: a writer's call says the values its rows share once, and rows
asking the same share a line), and counted at 4 characters a token, plus 4
tokens of chat overhead per message. That gives a fixed part per call (the request said once) and a part per
row (its line). A one-row call sends the plain prompt, which is the estimate of a call of one row.
Completion tokens per row: the JSON of one row: its handle, and per output field its key and a value sized from
the field's hints (upper bound of words at 1.35 tokens a word, characters / 4, list items) or its type.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .. import ir
from ..profiles import ModelProfile
from .requests import messages, output_schema

CHARS_PER_TOKEN = 4
TOKENS_PER_WORD = 1.35
TEXT_TOKENS_DEFAULT = 80  # a text field with no length hint
LIST_ITEMS_DEFAULT = 5
LIST_TEXT_ITEM_TOKENS = 25  # an unhinted text inside a list is a phrase or a sentence, not an essay
MESSAGE_OVERHEAD = 4
# {"row": 12, ...} is about 6 tokens; 14 (the 17-character id this once held) is kept: max_tokens is sized from it,
# so one-row requests (and the row digests, which are one-row requests) stay byte for byte what they were.
ROW_OVERHEAD = 14
CALL_OVERHEAD = 8  # {"rows": [ ... ]}


@dataclass(frozen=True)
class TokenModel:
    """Tokens of one call of n rows: per_call + n * per_row, for the prompt and the completion. prompt_one_row:
    the prompt of a call of one row, which sends the plain prompt (0: per_call + per_row)."""

    prompt_per_call: int
    prompt_per_row: int
    completion_per_call: int
    completion_per_row: int
    prompt_one_row: int = 0

    def prompt(self, calls: int, rows: int) -> int:
        if rows == calls and self.prompt_one_row:  # every call asks one row
            return calls * self.prompt_one_row
        return calls * self.prompt_per_call + rows * self.prompt_per_row

    def completion(self, calls: int, rows: int) -> int:
        return calls * self.completion_per_call + rows * self.completion_per_row


def value_tokens(t: ir.Type, hints: ir.LengthHints = ir.LengthHints()) -> float:
    """Estimated tokens of one value of type t in the model's JSON answer."""
    k = t.kind
    if k == "text":
        if hints.words:
            return hints.words[1] * TOKENS_PER_WORD + 2
        if hints.chars:
            return hints.chars[1] / CHARS_PER_TOKEN + 2
        return TEXT_TOKENS_DEFAULT
    if k in ("category", "enum"):
        longest = max((len(str(v)) for v in t.values or ()), default=8)
        return longest / CHARS_PER_TOKEN + 2
    if k == "list":
        items = hints.items[1] if hints.items else LIST_ITEMS_DEFAULT
        item = t.item or ir.Type(kind="text")
        each = LIST_TEXT_ITEM_TOKENS if item.kind == "text" else value_tokens(item)
        return 2 + items * (1 + each)
    if k == "object":
        return 2 + sum(len(m.name) / CHARS_PER_TOKEN + 2 + value_tokens(m.type, m.hints) for m in t.members)
    return {"bool": 1, "int": 3, "float": 4, "date": 6}.get(k, 4)


def completion_per_row(spec: ir.Spec, prompt: ir.Prompt) -> int:
    total = ROW_OVERHEAD
    for name in prompt.outputs:
        f = spec.field(name)
        total += len(name) / CHARS_PER_TOKEN + 3 + value_tokens(f.type, f.hints)
    return math.ceil(total)


def _longest_value(spec: ir.Spec, name: str):
    """The widest value a field can put into a template, for a conservative prompt estimate."""
    f = spec.field(name)
    t = f.type
    if f.role == "generated":
        return "x" * math.ceil(value_tokens(t, f.hints) * CHARS_PER_TOKEN)
    candidates = list(t.values or ())
    if f.dist is not None:
        candidates += [s.value for s in f.dist.shares]
    if f.given is not None:
        candidates += [s.value for c in f.given.cases for s in c.dist.shares]
    candidates += [v for v in (t.low, t.high) if v is not None]
    if not candidates:
        return "x" * 12
    return max(candidates, key=lambda v: len(str(v)))


def _chars(msgs: list[dict]) -> int:
    return sum(len(m["content"]) for m in msgs)


def token_model(spec: ir.Spec, prompt: ir.Prompt) -> TokenModel:
    sample = {name: _longest_value(spec, name) for name in prompt.inputs}
    sizes = []
    for k in (1, 2, 3):
        rows = [{"id": "0123456789-000000", **sample} for _ in range(k)]
        msgs = messages(spec, prompt, rows, merge=False)
        schema = json.dumps(output_schema(spec, prompt, k))
        sizes.append((_chars(msgs) + len(schema)) / CHARS_PER_TOKEN + MESSAGE_OVERHEAD * len(msgs))
    per_row = max(1, math.ceil(sizes[2] - sizes[1]))
    fixed = max(math.ceil(sizes[1] - 2 * per_row), 1)
    return TokenModel(fixed, per_row, CALL_OVERHEAD, completion_per_row(spec, prompt), math.ceil(sizes[0]))


def cost_usd(prompt_tokens: int, completion_tokens: int, profile: ModelProfile) -> float | None:
    """USD at the profile's list prices; None when a price is unknown."""
    if profile.input_usd_per_mtok is None or profile.output_usd_per_mtok is None:
        return None
    usd = prompt_tokens * profile.input_usd_per_mtok / 1e6 + completion_tokens * profile.output_usd_per_mtok / 1e6
    return round(usd, 6)
