"""An answer's text -> validated rows matched to the row ids the call asked for.

Accepted shapes: `{"rows": [...]}` (or any object holding one list of rows), a bare list of rows, or one bare
row. A truncated answer (finish_reason "length") keeps every row object that was complete before the cut:
a small scanner tracks strings, escapes and nesting instead of guessing with regexes, and nothing is eval'd.
Rows are checked with a pydantic model built from the IR types of the prompt's outputs; length hints are
left to constraints. Rows match requested ids by their `id` key when present, else by position (and the one
row of a one-row call is that row, whatever id it wrote).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field as PField, ValidationError, create_model

from .. import ir

# ---- the row model ----------------------------------------------------------------------------------------


class _Row(BaseModel):
    # Models often echo input fields or add commentary keys: ignored, and dropped from the row.
    model_config = ConfigDict(extra="ignore")


def annotation(t: ir.Type) -> Any:
    """The pydantic annotation of a value of IR type `t`."""
    if t.kind in ("category", "enum"):
        return Literal[tuple(t.values or ())]  # type: ignore[misc]
    if t.kind == "bool":
        return bool
    if t.kind in ("int", "float"):
        base = int if t.kind == "int" else float
        bounds = {}
        if isinstance(t.low, (int, float)):
            bounds["ge"] = t.low
        if isinstance(t.high, (int, float)):
            bounds["le"] = t.high
        return Annotated[base, PField(**bounds)] if bounds else base
    if t.kind == "date":
        bounds = {}
        if isinstance(t.low, str):
            bounds["ge"] = _dt.date.fromisoformat(t.low)
        if isinstance(t.high, str):
            bounds["le"] = _dt.date.fromisoformat(t.high)
        return Annotated[_dt.date, PField(**bounds)] if bounds else _dt.date
    if t.kind == "text":
        return str
    if t.kind == "list":
        return list[annotation(t.item)] if t.item else list
    if t.kind == "object":
        return _model("Object", [(m.name, m.type) for m in t.members])
    raise ValueError(f"unknown type kind {t.kind!r}")  # pragma: no cover


def _model(name: str, members: Sequence[tuple[str, ir.Type]]) -> type[BaseModel]:
    # Field names may clash with BaseModel attributes (e.g. `json`), so they go through aliases.
    spec = {f"f_{i}": (annotation(t), PField(alias=n)) for i, (n, t) in enumerate(members)}
    return create_model(name, __base__=_Row, **spec)


def row_model(fields: Sequence[ir.Field]) -> type[BaseModel]:
    """A model that checks one row holding `fields` (a prompt's outputs)."""
    return _model("Row", [(f.name, f.type) for f in fields])


def check_row(model: type[BaseModel], raw: Any) -> dict:
    """The row's values in JSON form (dates as ISO strings); raises ValueError with a short reason."""
    if not isinstance(raw, dict):
        raise ValueError(f"a row must be a JSON object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw).model_dump(mode="json", by_alias=True)
    except ValidationError as e:
        raise ValueError(_reason(e)) from None


def _reason(e: ValidationError) -> str:
    parts = []
    for err in e.errors(include_url=False, include_input=False)[:3]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


# ---- finding rows in the text -----------------------------------------------------------------------------


def _start(text: str) -> int:
    """Index of the first `{` or `[`: skips prose or a Markdown fence before the JSON."""
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    return min(starts) if starts else -1


def complete_objects(text: str) -> list[str]:
    """The text of every complete row object: objects directly inside a top-level list, or inside a list
    that is a value of the top-level object. Stops at the end of the first JSON value or of the text."""
    i = _start(text)
    if i < 0:
        return []
    out: list[str] = []
    stack: list[str] = []  # the open containers, '{' or '['
    row_start = -1
    in_str = escaped = False
    for j in range(i, len(text)):
        c = text[j]
        if in_str:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_str = False
            continue
        if c == '"':
            in_str = True
        elif c in "{[":
            if c == "{" and _row_level(stack):
                row_start = j
            stack.append(c)
        elif c in "}]":
            if not stack:
                break
            stack.pop()
            if c == "}" and row_start >= 0 and _row_level(stack):
                out.append(text[row_start : j + 1])
                row_start = -1
            if not stack:
                break
    return out


def _row_level(stack: list[str]) -> bool:
    return stack == ["["] or stack == ["{", "["]


def raw_rows(content: str, row_keys: frozenset[str] = frozenset()) -> tuple[list[Any], list[tuple[str, str]], bool]:
    """(row values, rejected (raw, reason), complete) from an answer's text; complete is False when only a
    prefix of the JSON could be read. Text around the first JSON value (prose, a Markdown fence) is ignored."""
    text = content or ""
    i = _start(text)
    if not text.strip():
        return [], [("", "empty answer")], True
    if i < 0:
        return [], [(text[:200], "no JSON in the answer")], True
    try:
        value, _ = json.JSONDecoder().raw_decode(text, i)
    except ValueError:
        pass
    else:
        return _unwrap(value, row_keys), [], True
    rows, rejected = [], []
    for piece in complete_objects(text):
        try:
            rows.append(json.loads(piece))
        except ValueError as e:
            rejected.append((piece, f"invalid JSON: {e.msg}"))
    if not rows and not rejected:
        rejected.append((text[:200], "no complete row in the answer"))
    return rows, rejected, False


def _unwrap(value: Any, row_keys: frozenset[str]) -> list[Any]:
    """The rows of a parsed answer: its `rows` list, a bare list, the one list of objects of a wrapper
    object (unless its key is a row field), or the object itself as one row."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("rows"), list):
            return value["rows"]
        if len(value) == 1:
            (key, inner), = value.items()
            if key not in row_keys and isinstance(inner, list) and inner and all(isinstance(x, dict) for x in inner):
                return inner
        return [value]
    return [value]


# ---- matching and checking --------------------------------------------------------------------------------


@dataclass
class Salvage:
    """rows: row id -> checked values, in the order the ids were requested. rejected: (raw JSON, reason).
    missing: requested ids with no good row. complete: the whole answer parsed (not a salvaged prefix)."""

    rows: dict[str, dict] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    complete: bool = True


def salvage(content: Optional[str], row_ids: Sequence[str], model: type[BaseModel]) -> Salvage:
    """The good rows of one answer for the rows `row_ids` that the call asked for. A truncated answer
    (finish_reason "length") needs no flag: whatever does not parse whole is salvaged row by row."""
    values, rejected, complete = raw_rows(content or "", frozenset(model.model_fields[n].alias or n
                                                                   for n in model.model_fields))
    wanted = {str(r): r for r in row_ids}
    got: dict[str, dict] = {}
    for pos, raw in enumerate(values):
        text = _dump(raw)
        rid = _row_id(raw, pos, row_ids, len(values))
        if rid is None:
            rejected.append((text, _no_id_reason(raw, pos, len(row_ids))))
            continue
        rid = wanted[rid]
        if rid in got:
            rejected.append((text, f"a second row for id {rid!r}"))
            continue
        try:
            got[rid] = check_row(model, raw)
        except ValueError as e:
            rejected.append((text, str(e)))
    rows = {r: got[r] for r in row_ids if r in got}
    return Salvage(rows=rows, rejected=rejected, missing=[r for r in row_ids if r not in got], complete=complete)


def _row_id(raw: Any, pos: int, row_ids: Sequence[str], n_values: int) -> Optional[str]:
    if len(row_ids) == 1 and n_values == 1:
        return str(row_ids[0])  # one row asked, one given: small models garble ids, and nothing is ambiguous
    if isinstance(raw, dict) and "id" in raw:
        rid = str(raw["id"])
        return rid if rid in {str(r) for r in row_ids} else None
    return str(row_ids[pos]) if pos < len(row_ids) else None


def _no_id_reason(raw: Any, pos: int, k: int) -> str:
    if isinstance(raw, dict) and "id" in raw:
        return f"id {raw['id']!r} was not asked for"
    return f"row {pos + 1} is past the {k} rows asked for"


def _dump(raw: Any) -> str:
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)
