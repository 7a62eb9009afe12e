"""The JSON schema of a call's rows, built from the IR types of the prompt's outputs.

Written for OpenAI's strict structured outputs (every property required, no extra properties) and for
llama.cpp's grammar, which reads the same subset. Measured with llama-cpp-python 0.3.36: enum, `format: date`,
minLength/maxLength and array item counts are enforced; minimum/maximum are ignored (so small int ranges are
also listed as an enum); a `pattern` with `\\d` crashes the server (client.grammar_safe rewrites it), so dates
use `format: date` and no pattern.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .. import ir

INT_ENUM_MAX = 32  # int ranges of at most this many values are also listed as an enum
_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string"}


def type_schema(t: ir.Type, hints: ir.LengthHints = ir.LengthHints(), description: str | None = None) -> dict:
    """The JSON schema of one value of type `t`."""
    if t.kind in ("category", "enum"):
        values = list(t.values or ())
        out: dict = {"enum": values}
        kinds = {type(v) for v in values}
        if len(kinds) == 1:
            out["type"] = _JSON_TYPE[kinds.pop()]
    elif t.kind == "bool":
        out = {"type": "boolean"}
    elif t.kind in ("int", "float"):
        out = {"type": "integer" if t.kind == "int" else "number"}
        if isinstance(t.low, (int, float)):
            out["minimum"] = t.low
        if isinstance(t.high, (int, float)):
            out["maximum"] = t.high
        if t.kind == "int" and "minimum" in out and "maximum" in out and t.high - t.low < INT_ENUM_MAX:
            # llama-cpp-python's grammar ignores minimum/maximum (measured) but enforces enum.
            out["enum"] = list(range(int(t.low), int(t.high) + 1))
    elif t.kind == "date":
        out = {"type": "string", "format": "date"}
    elif t.kind == "text":
        out = {"type": "string"}
    elif t.kind == "list":
        out = {"type": "array", "items": type_schema(t.item) if t.item else {}}
        if hints.items:
            out["minItems"], out["maxItems"] = hints.items
    elif t.kind == "object":
        out = object_schema([(m.name, m.type, m.hints, m.description) for m in t.members])
    else:  # pragma: no cover - the IR admits no other kind
        raise ValueError(f"unknown type kind {t.kind!r}")
    text = _describe(description, hints, t.kind)
    if text:
        out["description"] = text
    return out


def object_schema(members: Sequence[tuple[str, ir.Type, ir.LengthHints, str | None]]) -> dict:
    props = {name: type_schema(t, hints, desc) for name, t, hints, desc in members}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def handle_key(names: Sequence[str]) -> str:
    """The key of a row's handle in a call of several rows: `row`, or `_row` when a field of the prompt is named
    `row` (names starting with `_` are reserved, so `_row` never clashes). docs/BUILD.md "Request format"."""
    return "_row" if "row" in names else "row"


def row_schema(fields: Sequence[ir.Field], handle: Optional[tuple[str, int]] = None) -> dict:
    """One row: the fields (a prompt's outputs), plus its handle first when `handle` = (key, k): an integer, one
    of 1..k (the row's position in the call)."""
    members = [(f.name, f.type, f.hints, f.description) for f in fields]
    schema = object_schema(members)
    if handle is not None:
        key, k = handle
        schema["properties"] = {key: {"type": "integer", "enum": list(range(1, k + 1))}, **schema["properties"]}
        schema["required"] = [key, *schema["required"]]
    return schema


def rows_schema(fields: Sequence[ir.Field], k: int, key: str = "row") -> dict:
    """A call's answer: `{"rows": [k rows]}`, each row with its handle (1..k) under `key`."""
    return {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": row_schema(fields, (key, k)), "minItems": k, "maxItems": k}},
        "required": ["rows"],
        "additionalProperties": False,
    }


def span(handles: Sequence[int]) -> str:
    """Row numbers as short text: [2, 3, 4, 7] -> "2-4,7"."""
    out, run = [], [handles[0], handles[0]]
    for h in handles[1:]:
        if h == run[1] + 1:
            run[1] = h
        else:
            out.append(run)
            run = [h, h]
    out.append(run)
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in out)


def handles_of(value: Any, k: int) -> tuple[int, ...]:
    """The row numbers (1..k) a handle names: 3, "3", "Row 3", "#3", "2-4", "2-4,7"; () when it names none."""
    if isinstance(value, bool):
        return ()
    if isinstance(value, int):
        return (value,) if 1 <= value <= k else ()
    if not isinstance(value, str):
        return ()
    text = value.strip().lower().removeprefix("rows").removeprefix("row").strip(" #:")
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.strip().isdigit() or (hi and not hi.strip().isdigit()):
            return ()
        a, b = int(lo), int(hi or lo)
        if not 1 <= a <= b <= k:
            return ()
        out += range(a, b + 1)
    return tuple(dict.fromkeys(out))


def response_format(name: str, schema: dict, strict: bool = True) -> dict:
    """The `response_format` of a structured-output request (the client falls back from it where unsupported)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}


def _describe(description: str | None, hints: ir.LengthHints, kind: str) -> str:
    parts = [description] if description else []
    for unit, bounds in (("words", hints.words), ("characters", hints.chars)):
        if bounds and kind == "text":
            parts.append(f"{bounds[0]} to {bounds[1]} {unit}")
    return "; ".join(parts)
