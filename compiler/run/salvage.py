"""An answer's text -> validated rows matched to the row ids the call asked for.

Accepted shapes: `{"rows": [...]}` (or any object holding one list of rows), a bare list of rows, or one bare
row. A truncated answer (finish_reason "length") keeps every row object that was complete before the cut:
a small scanner tracks strings, escapes and nesting instead of guessing with regexes, and nothing is eval'd.
Rows are checked with a pydantic model built from the IR types of the prompt's outputs; length hints are
left to constraints. Rows reach the rows they were asked for by the rule in `salvage` (docs/BUILD.md
"Matching rows to what was asked"): by position when the count is right and no handle contradicts it, else by
the handle (the row's number in the call, 1..k).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Mapping, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field as PField, ValidationError, create_model

from .. import ir
from ..plan.requests import format_value
from ..plan.schema import handle_key, handles_of

# ---- the row model ----------------------------------------------------------------------------------------


class _Row(BaseModel):
    # Models often echo input fields or add commentary keys: ignored, and dropped from the row.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)  # JSON, and so a dataset, has neither


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
        row = model.model_validate(raw).model_dump(mode="json", by_alias=True)
    except ValidationError as e:
        raise ValueError(_reason(e)) from None
    bad = _not_unicode(row)
    if bad is not None:  # JSON lets `"\udb10"` through; UTF-8 (the dataset, DuckDB) cannot hold it
        raise ValueError(f"{bad}: text that is not valid Unicode (a lone surrogate)")
    return row


def _not_unicode(value: Any, where: str = "") -> Optional[str]:
    """The first member holding a lone surrogate (not encodable as UTF-8), else None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "value"
    elif isinstance(value, dict):
        for k, v in value.items():
            found = _not_unicode(v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _not_unicode(v, f"{where}.{i}" if where else str(i))
            if found:
                return found
    return None


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

# Why a requested row got no values (docs/BUILD.md "Matching rows to what was asked"): the yield breaker and
# the stop diagnosis count rejected rows by these kinds.
EMPTY = "empty"  # the answer was empty, or held no JSON at all
TRUNCATED = "truncated"  # the answer was cut off before this row
UNMATCHED = "unmatched_ids"  # the answer's rows could not be matched to the rows asked for
SCHEMA = "schema"  # the row was there but did not fit the row's types
MISSING = "missing"  # the answer held fewer rows than asked, and none for this one


@dataclass
class Salvage:
    """rows: row id -> checked values, in the order the ids were requested. rejected: (raw JSON, reason).
    missing: requested ids with no good row. complete: the whole answer parsed (not a salvaged prefix).
    failed: requested id -> (kind, reason) for every id without a good row. by_position: rows matched by
    their place in the answer because their ids were not the asked ones."""

    rows: dict[str, dict] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    complete: bool = True
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)
    by_position: int = 0


def salvage(content: Optional[str], row_ids: Sequence[str], model: type[BaseModel],
            asked: Optional[Sequence[Mapping]] = None) -> Salvage:
    """The good rows of one answer for the rows `row_ids` that the call asked for, in the order it numbered them
    (handles 1..k). A truncated answer (finish_reason "length") needs no flag: whatever does not parse whole is
    salvaged row by row.

    Matching (docs/BUILD.md "Matching rows to what was asked"): one row asked and one given are each other's.
    Otherwise, when the answer holds exactly as many rows as were asked and no row names an asked row (its
    handle, or its id) at another position, rows match by position: a model that wrote the rows in order but
    invented their handles still builds. Otherwise rows match by the row they name (a merged entry's handle,
    "2-4", names the first of its rows not yet answered); rows naming nothing take their position.
    `asked` (what the call told the model about each row) guards against a row answering another row: a row
    that echoes an input with another value than its own row was asked with is rejected as unmatched."""
    outputs = {model.model_fields[n].alias or n for n in model.model_fields}
    values, rejected, complete = raw_rows(content or "", frozenset(outputs))
    k = len(row_ids)
    key = handle_key((*outputs, *(asked[0] if asked else ())))
    keys = (key,) if "id" in outputs else (key, "id")  # the handle, else an id copied as older prompts asked
    wanted = {str(r): n for n, r in enumerate(row_ids)}
    named = [_named(raw, keys, wanted, k) for raw in values]
    if k == 1 and len(values) == 1:
        assign: dict[int, Optional[int]] = {0: 0}
    elif len(values) == k and all(not n or pos in n for pos, n in enumerate(named)):
        assign = {pos: pos for pos in range(k)}
    else:
        assign, taken = {}, set()
        for pos, (raw, n) in enumerate(zip(values, named)):
            if n:  # the first of the rows it names not answered yet, else the first (a second row for it)
                assign[pos] = next((x for x in n if x not in taken), n[0])
            else:
                assign[pos] = pos if not _has_handle(raw, keys) and pos < k else None
            taken.add(assign[pos])
    got: dict[int, dict] = {}
    failed: dict[int, tuple[str, str]] = {}
    unmatched = by_position = 0
    for pos, raw in enumerate(values):
        text = _dump(raw)
        n = assign.get(pos)
        if n is None:
            rejected.append((text, _no_handle_reason(raw, keys, pos, k)))
            unmatched += 1
            continue
        if n in got:
            rejected.append((text, f"a second row for row {n + 1}"))
            continue
        clash = _echo_clash(raw, asked[n] if asked is not None and n < len(asked) else None, outputs | {key})
        if clash:
            rejected.append((text, clash))
            failed.setdefault(n, (UNMATCHED, clash))
            unmatched += 1
            continue
        try:
            got[n] = check_row(model, raw)
            failed.pop(n, None)
            by_position += not named[pos] and _has_handle(raw, keys) and k > 1
        except ValueError as e:
            rejected.append((text, str(e)))
            failed.setdefault(n, (SCHEMA, str(e)))
    for n in range(k):
        if n in got or n in failed:
            continue
        if not values:
            why = rejected[0][1] if rejected else "empty answer"
            failed[n] = (EMPTY if complete else TRUNCATED, why)
        elif not complete:
            failed[n] = (TRUNCATED, "the answer was cut off before this row")
        elif unmatched:
            failed[n] = (UNMATCHED, f"{unmatched} row{'s' * (unmatched != 1)} of the answer matched no row "
                                    f"asked for (row numbers not copied, and {len(values)} rows for {k} asked)")
        else:
            failed[n] = (MISSING, f"the answer held {len(values)} row{'s' * (len(values) != 1)} for {k} asked")
    rows = {row_ids[n]: got[n] for n in range(k) if n in got}
    return Salvage(rows=rows, rejected=rejected, missing=[r for n, r in enumerate(row_ids) if n not in got],
                   complete=complete, failed={row_ids[n]: failed[n] for n in sorted(failed)},
                   by_position=by_position)


def _handle(raw: Any, keys: Sequence[str]) -> Optional[str]:
    """The key under which a row names its row: the first of `keys` it holds."""
    return next((x for x in keys if x in raw), None) if isinstance(raw, dict) else None


def _has_handle(raw: Any, keys: Sequence[str]) -> bool:
    return _handle(raw, keys) is not None


def _named(raw: Any, keys: Sequence[str], wanted: Mapping[str, int], k: int) -> tuple[int, ...]:
    """The asked rows (positions from 0) a row names: by its handle (3, "3", "Row 3", a merged entry's "2-4"), or
    by the `id` it copied (the row's id, or its number); () when it names none."""
    at = _handle(raw, keys)
    if at is None or k < 2:
        return ()
    said = raw[at]
    if isinstance(said, str) and said.strip() in wanted:
        return (wanted[said.strip()],)
    return tuple(h - 1 for h in handles_of(said, k))


def _echo_clash(raw: Any, asked: Optional[Mapping], outputs: set[str]) -> Optional[str]:
    """A reason when the row repeats one of its request's inputs with another value (it answers another
    row); None when it echoes nothing or echoes its own values."""
    if not isinstance(raw, dict) or not asked:
        return None
    for key, want in asked.items():
        if key == "id" or key in outputs or key not in raw:
            continue
        said = raw[key]
        if isinstance(said, (dict, list)) or isinstance(want, (dict, list)) or said is None:
            continue
        if format_value(said).strip().casefold() != format_value(want).strip().casefold():
            return f"the row says {key} = {format_value(said)!r}, but its row was asked with {format_value(want)!r}"
    return None


def _no_handle_reason(raw: Any, keys: Sequence[str], pos: int, k: int) -> str:
    at = _handle(raw, keys)
    if at is not None:
        return f"{at} {raw[at]!r} names no row asked for"
    return f"row {pos + 1} is past the {k} rows asked for"


def _dump(raw: Any) -> str:
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)
