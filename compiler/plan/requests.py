"""The one place a call becomes an OpenAI chat request: messages with templates filled from row values, and
the JSON schema of the call's rows for `response_format`. The build runner sends these bodies, and
`synthc plan --emit-batch` writes them in the Batch API input format (generate.predict).

Messages: [system (when the prompt has one), real-row turns, user] (docs/BUILD.md "Request format"). A call of
k > 1 rows says what its rows share once (the written examples, the user template with its placeholders named,
the columns of its rows, the outputs to write) and each row as one JSON array line: its handle (its position
1..k) and its placeholders' values; a writer's rows asking exactly the same are one line that wants that many
different answers. It asks for `{"rows": [...]}` of k items, each with its handle. A one-row call sends the
plain prompt (the template filled) and asks for the bare row object, with no handle to copy: small models (the
embedded 135M one) garble them.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Mapping

from .. import ir
from .fewshot import choose, example
from .schema import handle_key, response_format, row_schema, rows_schema, span
from .model import Plan, PromptPlan
from .rows import Call

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
URL = "/v1/chat/completions"


def format_value(v) -> str:
    """A row value as template text: strings as they are, booleans lower-case, others as JSON."""
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 1e15 else repr(v)
    return json.dumps(v, ensure_ascii=False)


def fill(text: str, row: Mapping) -> str:
    """Replace `{field}` with the row's value; `{{` and `}}` are literal braces."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        name = m.group(1)
        return format_value(row[name]) if name in row else m.group(0)

    return _PLACEHOLDER.sub(sub, text)


# ---- schema -----------------------------------------------------------------------------------------
# The schema (`plan.schema`, tuned for OpenAI strict mode and llama.cpp grammars) is shared with salvage, so
# the planner's requests and the runner's validation can never disagree about a row's shape.


def _length_note(h: ir.LengthHints) -> str:
    parts = []
    if h.words:
        parts.append(f"{h.words[0]}-{h.words[1]} words")
    if h.chars:
        parts.append(f"{h.chars[0]}-{h.chars[1]} characters")
    if h.items:
        parts.append(f"{h.items[0]}-{h.items[1]} items")
    return ", ".join(parts)


def output_schema(spec: ir.Spec, prompt: ir.Prompt, k: int) -> dict:
    """`{"rows": [k row objects]}`, each with the row's handle (1..k) and the prompt's outputs; for k = 1 the bare
    row."""
    fields = [spec.field(n) for n in prompt.outputs]
    return row_schema(fields) if k == 1 else rows_schema(fields, k, handle_key((*prompt.inputs, *prompt.outputs)))


def schema_name(prompt: ir.Prompt) -> str:
    """`NAME_rows` for a prompt, `judge_NAME` for a judge (plan.judges)."""
    name = f"judge_{prompt.name}" if prompt.judge else f"{prompt.name}_rows"
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]


# ---- messages and bodies ----------------------------------------------------------------------------


def _describe_outputs(spec: ir.Spec, prompt: ir.Prompt) -> str:
    lines = []
    for name in prompt.outputs:
        f = spec.field(name)
        note = "; ".join(x for x in (f.type.kind, f.description, _length_note(f.hints)) if x)
        lines.append(f"- {name}: {note}")
    return "\n".join(lines)


def _one_row_answer(spec: ir.Spec, prompt: ir.Prompt) -> str:
    return "Answer with one JSON object with these fields:\n" + _describe_outputs(spec, prompt)


def example_turns(spec: ir.Spec, prompt: ir.Prompt, row: Mapping) -> list[dict]:
    """The real rows shown with a call whose first row is `row` (plan.fewshot), as earlier turns: per row, the
    one-row request for it (the user text filled with its values, `row`'s for inputs the reference does not map)
    and the answer (its outputs, one JSON object). LANGUAGE.md "Few-shot examples from real rows"."""
    out = []
    for r in choose(spec, prompt, row).rows:
        shown = example(spec, prompt, r)
        values = {**row, **{n: shown[n] for n in prompt.inputs if n in shown}}
        out.append({"role": "user", "content": fill(prompt.user.text, values) + "\n\n" + _one_row_answer(spec, prompt)})
        out.append({"role": "assistant",
                    "content": json.dumps({n: shown[n] for n in prompt.outputs}, ensure_ascii=False, sort_keys=True)})
    return out


def messages(spec: ir.Spec, prompt: ir.Prompt, rows: list[Mapping], merge: bool = True) -> list[dict]:
    """The chat messages of one call over `rows` (each with an `id` and the prompt's input values). merge=False
    gives every row its own line even when rows ask the same (plan.cost's upper bound)."""
    out = []
    if prompt.system is not None:
        out.append({"role": "system", "content": fill(prompt.system.text, rows[0] if rows else {})})
    if prompt.real_examples is not None and rows:  # real rows chosen for this call's first row (plan.fewshot)
        out += example_turns(spec, prompt, rows[0])
    parts = []
    shown = [json.dumps(e, ensure_ascii=False, sort_keys=True) for e in prompt.examples]
    if shown:
        parts.append("Examples of finished rows:\n" + "\n".join(shown))
    if len(rows) == 1:
        parts += [fill(prompt.user.text, rows[0]), _one_row_answer(spec, prompt)]
    else:
        parts += _shared_and_rows(spec, prompt, rows, merge and not prompt.judge)
    out.append({"role": "user", "content": "\n\n".join(parts)})
    return out


def _shared_and_rows(spec: ir.Spec, prompt: ir.Prompt, rows: list[Mapping], merge: bool) -> list[str]:
    """The request once, the rows' columns once and each row as a JSON array line, the answer wanted: a call of
    k > 1 rows (docs/BUILD.md "Request format"). merge (a writer's call): values every row shares are filled into
    the request, and rows asking the same are one line; with nothing left that varies, there are no lines."""
    k = len(rows)
    key = handle_key((*prompt.inputs, *prompt.outputs))
    named = [n for n in dict.fromkeys(prompt.user.fields) if any(n in r for r in rows)]
    shared = {n: rows[0][n] for n in named if merge and all(n in r and r[n] == rows[0][n] for r in rows)}
    template = fill(prompt.user.text, shared)  # the other placeholders stay `{name}`, `{{`/`}}` single braces
    answer = f'Answer {{"rows": [...]}}: {k} items in row order, each with "{key}" and:\n' + _describe_outputs(spec, prompt)
    columns = [n for n in named if n not in shared]
    if not columns:
        return [f"Write {k} different rows for this request:\n" + template, answer]
    entries: dict[str, list[int]] = {}  # a row's values, as JSON -> the handles of the rows asking them
    for i, row in enumerate(rows, 1):
        values = json.dumps([_plain(row.get(n)) for n in columns], ensure_ascii=False)
        entries.setdefault(values if merge else f"{i}:{values}", []).append(i)  # a judge's rows stay apart
    merged = len(entries) < k
    lines = []
    for values, handles in entries.items():  # a line names its rows only when some line stands for several
        values = values[values.index("["):]
        head = json.dumps(handles[0] if len(handles) == 1 else span(handles)) + ", " if merged else ""
        lines.append("[" + head + values[1:])
    if prompt.judge:
        ask = f"Answer this question for each of the {k} rows below, with its own {{placeholders}}:"
    else:
        ask = f"Write {k} rows, each answering this request with its own {{placeholders}}:"
    if merged:
        table = (f"Rows, one per line as [{', '.join((key, *columns))}]; a line with several row numbers wants that "
                 "many different answers")
    else:
        table = f"Rows 1-{k}, one per line as [{', '.join(columns)}]"
    return [ask + "\n" + template, table + ":\n" + "\n".join(lines), answer]


def _plain(v):
    """A value as a row line shows it: what `format_value` writes, as JSON (whole floats as integers)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v


def call_seed(seed: int, call_id: str) -> int:
    h = hashlib.sha256(f"{seed}\x1f{call_id}".encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


def max_tokens(plan_prompt: PromptPlan, prompt: ir.Prompt, rows: int, limit: int) -> int:
    """The prompt's max_tokens for each row (plus the answer's wrapper), else the estimate with room to spare
    (JSON must not be cut off); never above the model's output limit."""
    if prompt.max_tokens:
        return min(limit, rows * prompt.max_tokens + plan_prompt.completion_tokens_per_call)
    est = plan_prompt.completion_tokens_per_call + rows * plan_prompt.completion_tokens_per_row
    return min(limit, int(est * 1.5) + 64)


def request_body(spec: ir.Spec, plan: Plan, plan_prompt: PromptPlan, call: Call, rows: list[Mapping]) -> dict:
    prompt = spec.prompt(plan_prompt.prompt)
    return {
        "model": plan_prompt.model,
        "messages": messages(spec, prompt, rows),
        "response_format": response_format(schema_name(prompt), output_schema(spec, prompt, len(rows))),
        "temperature": prompt.temperature if prompt.temperature is not None else 1.0,
        "max_tokens": max_tokens(plan_prompt, prompt, len(rows), plan.profile_of(plan_prompt).max_output_tokens),
        "seed": call_seed(plan.seed, call.id),
    }


class RowDigest:
    """A row's digest for one prompt: what asking for that row alone would send (endpoint, model, messages,
    schema, sampling, max_tokens), with the dataset's seed and the row's id. It keys the row's stored answer
    (run.rowstore). The packing of the call (its other rows, its seed) is left out, so a row keeps its answer
    however later builds pack their calls, and loses it when anything it was asked with changes.

    The request's fixed parts (templates unfilled, schema, sampling) are serialised once per prompt; a row adds
    only its filled system and user templates and its id."""

    def __init__(self, spec: ir.Spec, plan: Plan, plan_prompt: PromptPlan, identity: str):
        self.spec, self.prompt = spec, spec.prompt(plan_prompt.prompt)
        body = request_body(spec, plan, plan_prompt, Call(self.prompt.name, "", ()), [{}])
        del body["seed"]
        self.fixed = json.dumps({"endpoint": identity, "seed": plan.seed, "body": body}, sort_keys=True,
                                ensure_ascii=False, separators=(",", ":"))

    def __call__(self, row: Mapping) -> str:
        system = fill(self.prompt.system.text, row) if self.prompt.system is not None else None
        parts = [self.fixed, system, fill(self.prompt.user.text, row), row.get("id")]
        if self.prompt.real_examples is not None:  # the real rows a call of this row alone would show
            parts.append(example_turns(self.spec, self.prompt, row))
        text = json.dumps(parts, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
