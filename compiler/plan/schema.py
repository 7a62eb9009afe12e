"""The JSON schema of a call's rows, built from the IR types of the prompt's outputs.

Written for OpenAI's strict structured outputs (every property required, no extra properties) and for
llama.cpp's grammar, which reads the same subset. Measured with llama-cpp-python 0.3.36: enum, `format: date`,
minLength/maxLength and array item counts are enforced; minimum/maximum are ignored (so small int ranges are
also listed as an enum); a `pattern` with `\\d` crashes the server (client.grammar_safe rewrites it), so dates
use `format: date` and no pattern.
"""

from __future__ import annotations

from typing import Sequence

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


def row_schema(fields: Sequence[ir.Field], with_id: bool = True) -> dict:
    """One row: the fields (a prompt's outputs), plus the row's `id` string first when `with_id`."""
    members = [(f.name, f.type, f.hints, f.description) for f in fields]
    schema = object_schema(members)
    if with_id:
        schema["properties"] = {"id": {"type": "string"}, **schema["properties"]}
        schema["required"] = ["id", *schema["required"]]
    return schema


def rows_schema(fields: Sequence[ir.Field], k: int) -> dict:
    """A call's answer: `{"rows": [k rows]}`, each row with its id."""
    return {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": row_schema(fields), "minItems": k, "maxItems": k}},
        "required": ["rows"],
        "additionalProperties": False,
    }


def response_format(name: str, schema: dict, strict: bool = True) -> dict:
    """The `response_format` of a structured-output request (the client falls back from it where unsupported)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}


def _describe(description: str | None, hints: ir.LengthHints, kind: str) -> str:
    parts = [description] if description else []
    for unit, bounds in (("words", hints.words), ("characters", hints.chars)):
        if bounds and kind == "text":
            parts.append(f"{bounds[0]} to {bounds[1]} {unit}")
    return "; ".join(parts)
