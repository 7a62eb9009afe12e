"""The semantic diff of two IRs: what was added, removed or changed, per kind, in the spec's own terms.

A share moving from 30% to 40% is one change line (`share of "negative": 30% -> 40%`), not a text diff;
template and fragment texts, which are prose, get a sentence-per-line unified diff. A field, prompt,
constraint or fragment that is identical but for its name is reported as renamed (its uses elsewhere, such
as `{old}` in a template, still show as changes of the things that use it).
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Callable, Iterable, Optional, Sequence

from pydantic import BaseModel, ConfigDict

from .. import ir
from . import text as tx


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(_Frozen):
    """One precise change. old/new: display text, None where the thing is absent on that side.
    diff: a unified diff (templates, fragments) when old and new are long prose."""

    what: str
    old: Optional[str] = None
    new: Optional[str] = None
    diff: Optional[str] = None

    def line(self, limit: int = 100) -> str:
        if self.diff is not None:
            return f"{self.what} changed"
        old = "–" if self.old is None else tx.short(self.old, limit)
        new = "–" if self.new is None else tx.short(self.new, limit)
        return f"{self.what}: {old} → {new}"


class Item(_Frozen):
    """An added or removed thing. feeds: for fragments, the prompts whose templates splice it in."""

    name: str
    text: str
    feeds: tuple[str, ...] = ()


class Changed(_Frozen):
    name: str
    changes: tuple[Change, ...]
    feeds: tuple[str, ...] = ()


class Renamed(_Frozen):
    old: str
    new: str


class KindDiff(_Frozen):
    added: tuple[Item, ...] = ()
    removed: tuple[Item, ...] = ()
    changed: tuple[Changed, ...] = ()
    renamed: tuple[Renamed, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.renamed)


KINDS = ("fields", "joints", "prompts", "judges", "fragments", "constraints")
SINGULAR = {"fields": "field", "joints": "joint", "prompts": "prompt", "judges": "judge", "fragments": "fragment",
             "constraints": "constraint"}


class SpecDiff(_Frozen):
    """dataset: changes of the header's settings; the rest per kind of declaration."""

    dataset: tuple[Change, ...] = ()
    fields: KindDiff = KindDiff()
    joints: KindDiff = KindDiff()
    prompts: KindDiff = KindDiff()
    judges: KindDiff = KindDiff()
    fragments: KindDiff = KindDiff()
    constraints: KindDiff = KindDiff()
    reference: tuple[Change, ...] = ()  # the reference declaration and its file (reference_changes)

    @property
    def empty(self) -> bool:
        return not self.dataset and not self.reference and all(getattr(self, k).empty for k in KINDS)

    def summary_parts(self) -> list[str]:
        """`2 fields changed`, `1 constraint added`, ... in a fixed order; dataset settings as `rows 200 → 180`."""
        out = [f"{c.what} {c.old or '–'} → {c.new or '–'}" for c in self.dataset
               if c.what in ("rows", "seed", "model")]
        if any(c.what not in ("rows", "seed", "model") for c in self.dataset):
            out.append("dataset settings changed")
        if any(c.what == "file" for c in self.reference):
            out.append("reference file changed")
        elif self.reference:
            out.append("reference changed")
        for kind in KINDS:
            d: KindDiff = getattr(self, kind)
            for verb, n in (("added", len(d.added)), ("removed", len(d.removed)), ("renamed", len(d.renamed)),
                            ("changed", len(d.changed))):
                if n:
                    out.append(f"{n} {SINGULAR[kind]}{'s' * (n != 1)} {verb}")
        return out


# ---- helpers ------------------------------------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    """Prose as one sentence per line, so a diff points at the sentence that changed."""
    out = []
    for line in text.split("\n"):
        out += re.split(r"(?<=[.!?])\s+(?=\S)", line) if line.strip() else [line]
    return out


def text_diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(_sentences(old), _sentences(new), "old", "new", lineterm="", n=1)
    return "\n".join(list(lines)[2:])  # the ---/+++ header says nothing the section title does not


def _diff_by_name(old: Sequence, new: Sequence, name: Callable, text: Callable, changes: Callable,
                  same_but_name: Callable, feeds: Callable = lambda n: ()) -> KindDiff:
    o = {name(x): x for x in old}
    n = {name(x): x for x in new}
    removed = [k for k in o if k not in n]
    added = [k for k in n if k not in o]
    renamed = []
    for r in list(removed):
        match = next((a for a in added if same_but_name(o[r], n[a])), None)
        if match is not None:
            renamed.append(Renamed(old=r, new=match))
            removed.remove(r)
            added.remove(match)
    changed = []
    for k in n:
        if k in o and o[k] != n[k]:
            cs = tuple(changes(o[k], n[k]))
            if cs:
                changed.append(Changed(name=k, changes=cs, feeds=tuple(feeds(k))))
    return KindDiff(added=tuple(Item(name=k, text=text(n[k]), feeds=tuple(feeds(k))) for k in added),
                    removed=tuple(Item(name=k, text=text(o[k]), feeds=tuple(feeds(k))) for k in removed),
                    changed=tuple(changed), renamed=tuple(renamed))


def _dump_but_name(x: BaseModel) -> str:
    return json.dumps(x.model_dump(mode="json", exclude={"name"}), sort_keys=True)


def _same_but_name(a: BaseModel, b: BaseModel) -> bool:
    return _dump_but_name(a) == _dump_but_name(b)


# ---- fields -------------------------------------------------------------------------------------------------


def share_changes(old: Sequence[ir.Share], new: Sequence[ir.Share], prefix: str = "") -> list[Change]:
    o = {tx.value(s.value): s.share for s in old}
    n = {tx.value(s.value): s.share for s in new}
    out = []
    for v in list(n) + [v for v in o if v not in n]:
        if o.get(v) != n.get(v):
            out.append(Change(what=f"{prefix}share of {v}", old=_pct(o.get(v)), new=_pct(n.get(v))))
    return out


def _pct(x: Optional[float]) -> Optional[str]:
    return None if x is None else tx.pct(x)


def dist_changes(old: Optional[ir.Dist], new: Optional[ir.Dist], prefix: str = "") -> list[Change]:
    if old == new:
        return []
    if old is None or new is None or old.kind != new.kind:
        return [Change(what=f"{prefix}distribution", old=old and tx.dist_text(old), new=new and tx.dist_text(new))]
    out = []
    if old.declared != new.declared:
        out.append(Change(what=f"{prefix}distribution", old="default" if not old.declared else "declared",
                          new="default" if not new.declared else "declared"))
    if old.kind == "shares":
        out += share_changes(old.shares, new.shares, prefix)
    for p in sorted(set(old.params) | set(new.params)):
        if old.params.get(p) != new.params.get(p):
            out.append(Change(what=f"{prefix}{old.kind} {p}", old=_num(old.params.get(p)), new=_num(new.params.get(p))))
    return out


def _num(x: Optional[float]) -> Optional[str]:
    return None if x is None else tx.num(x)


def _given_text(g: ir.Conditional) -> str:
    return f"given {g.on} {{" + ", ".join(f"{tx.value(c.when)}: {tx.dist_text(c.dist)}" for c in g.cases) + "}"


def given_changes(old: Optional[ir.Conditional], new: Optional[ir.Conditional]) -> list[Change]:
    if old == new:
        return []
    if old is None or new is None or old.on != new.on:
        return [Change(what="given", old=old and _given_text(old), new=new and _given_text(new))]
    o = {tx.value(c.when): c.dist for c in old.cases}
    n = {tx.value(c.when): c.dist for c in new.cases}
    out = []
    for w in list(n) + [w for w in o if w not in n]:
        prefix = f"given {new.on} = {w}: "
        if w not in o or w not in n:
            out.append(Change(what=f"given {new.on} = {w}", old=w in o and tx.dist_text(o[w]) or None,
                              new=w in n and tx.dist_text(n[w]) or None))
        else:
            out += dist_changes(o[w], n[w], prefix)
    return out


def field_changes(old: ir.Field, new: ir.Field) -> list[Change]:
    out = []
    if old.role != new.role:
        out.append(Change(what="role", old=old.role, new=new.role))
    if old.type != new.type:
        only_values = (old.type.kind == new.type.kind and old.type.kind in ("category", "enum")
                       and old.type.model_copy(update={"values": None}) == new.type.model_copy(update={"values": None}))
        shares_say_it = only_values and old.dist is not None and new.dist is not None and \
            old.dist.kind == new.dist.kind == "shares"
        if only_values and not shares_say_it:
            ov, nv = list(old.type.values or ()), list(new.type.values or ())
            out += [Change(what="value", new=tx.value(v)) for v in nv if v not in ov]
            out += [Change(what="value", old=tx.value(v)) for v in ov if v not in nv]
        elif not only_values:
            out.append(Change(what="type", old=tx.type_text(old.type), new=tx.type_text(new.type)))
    if old.categorical != new.categorical:
        out.append(Change(what="stratified", old="yes" if old.categorical else "no",
                          new="yes" if new.categorical else "no"))
    if (old.dist is None) != (new.dist is None) and (old.given is None) != (new.given is None):
        # `~ {...}` became `given x {...}` or back: one line says it better than two
        def whole(f):
            return f"~ {tx.dist_text(f.dist)}" if f.dist is not None else _given_text(f.given)
        out.append(Change(what="distribution", old=whole(old), new=whole(new)))
    else:
        out += dist_changes(old.dist, new.dist)
        out += given_changes(old.given, new.given)
    if old.expr != new.expr:
        out.append(Change(what="expression", old=old.expr and tx.expr(old.expr), new=new.expr and tx.expr(new.expr)))
    if old.prompt != new.prompt:
        out.append(Change(what="written by", old=old.prompt, new=new.prompt))
    for h in ("words", "chars", "items"):
        a, b = getattr(old.hints, h), getattr(new.hints, h)
        if a != b:
            out.append(Change(what=h, old=a and f"{a[0]}..{a[1]}", new=b and f"{b[0]}..{b[1]}"))
    if old.description != new.description:
        out.append(Change(what="description", old=old.description, new=new.description))
    # depends_on follows from the expression, the condition and the prompt's inputs, which say it better
    if not out and old.model_copy(update={"depends_on": ()}) != new.model_copy(update={"depends_on": ()}):
        # a difference the lines above do not name: say so rather than hide it
        out.append(Change(what="definition", old=tx.field_text(old), new=tx.field_text(new)))
    return out


# ---- prompts, fragments, joints, constraints ---------------------------------------------------------------


def _template_changes(which: str, old: Optional[ir.Template], new: Optional[ir.Template],
                      changed_fragments: set[str]) -> list[Change]:
    if old == new:
        return []
    if old is None or new is None:
        return [Change(what=f"{which} message", old=old and old.text, new=new and new.text)]
    out = []
    if old.text != new.text:
        via = sorted((set(old.fragments) | set(new.fragments)) & changed_fragments)
        note = f" (fragment{'s' * (len(via) > 1)} {', '.join(via)})" if via else ""
        out.append(Change(what=f"{which} text{note}", diff=text_diff(old.text, new.text)))
    if old.fragments != new.fragments:
        out.append(Change(what=f"{which} fragments", old=", ".join(old.fragments) or "none",
                          new=", ".join(new.fragments) or "none"))
    return out


def _example_text(e: dict) -> str:
    return json.dumps(e, sort_keys=True, ensure_ascii=False)


def prompt_changes(old: ir.Prompt, new: ir.Prompt, changed_fragments: set[str]) -> list[Change]:
    out = _template_changes("system", old.system, new.system, changed_fragments)
    out += _template_changes("user", old.user, new.user, changed_fragments)
    for label, attr in (("reads", "inputs"), ("writes", "outputs")):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            out.append(Change(what=label, old=", ".join(a) or "nothing", new=", ".join(b) or "nothing"))
    oe = [_example_text(e) for e in old.examples]
    ne = [_example_text(e) for e in new.examples]
    out += [Change(what="example", old=e) for e in oe if e not in ne]
    out += [Change(what="example", new=e) for e in ne if e not in oe]
    if oe != ne and sorted(oe) == sorted(ne):
        out.append(Change(what="examples", old="in another order", new="reordered"))
    for attr, none in (("temperature", "default"), ("max_tokens", "auto"), ("rows_per_call", "auto"),
                       ("model", "the dataset's")):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            out.append(Change(what=attr, old=none if a is None else str(a), new=none if b is None else str(b)))
    return out


def judge_changes(old: ir.Judge, new: ir.Judge, changed_fragments: set[str]) -> list[Change]:
    out = _template_changes("question", old.question, new.question, changed_fragments)
    out += _template_changes("system", old.system, new.system, changed_fragments)
    shown = {"answer": lambda j: "yes_no" if j.answer == "yes_no" else f"{j.low}..{j.high}",
             "model": lambda j: j.model or "the writer's", "rows_per_call": lambda j: str(j.rows_per_call or "auto"),
             "temperature": lambda j: "0" if j.temperature is None else str(j.temperature)}
    for what, show in shown.items():
        if show(old) != show(new):
            out.append(Change(what=what, old=show(old), new=show(new)))
    return out


def joint_changes(old: ir.Joint, new: ir.Joint) -> list[Change]:
    def cells(j):
        return {"(" + ", ".join(tx.value(v) for v in c.values) + ")": c.share for c in j.cells}

    o, n = cells(old), cells(new)
    return [Change(what=f"share of {k}", old=_pct(o.get(k)), new=_pct(n.get(k)))
            for k in list(n) + [k for k in o if k not in n] if o.get(k) != n.get(k)]


def constraint_changes(old: ir.Constraint, new: ir.Constraint) -> list[Change]:
    out = []
    if old.kind != new.kind:
        out.append(Change(what="kind", old=old.kind, new=new.kind))
    if old.expr != new.expr:
        out.append(Change(what="rule", old=tx.expr(old.expr), new=tx.expr(new.expr)))
    if old.per != new.per:
        out.append(Change(what="per", old=", ".join(old.per) or "the whole dataset",
                          new=", ".join(new.per) or "the whole dataset"))
    return out


def _feeds(spec: Optional[ir.Spec], fragment: str) -> list[str]:
    if spec is None:
        return []
    return [p.name for p in spec.prompts
            if fragment in p.user.fragments or (p.system is not None and fragment in p.system.fragments)]


_DATASET = ("rows", "seed", "model", "formats", "description")


def _setting(d: ir.Dataset, name: str) -> Optional[str]:
    v = getattr(d, name)
    if v is None:
        return None
    if name == "formats":
        return ", ".join(v)
    return f"{v:,}" if name == "rows" else str(v)


# ---- the diff -------------------------------------------------------------------------------------------------


def spec_diff(old: Optional[ir.Spec], new: Optional[ir.Spec]) -> SpecDiff:
    """Everything that differs between two checked specs; None stands for a side where the spec does not exist."""
    if old is None and new is None:
        return SpecDiff()
    dataset: list[Change] = []
    if old is not None and new is not None:
        for s in _DATASET:
            a, b = _setting(old.dataset, s), _setting(new.dataset, s)
            if a != b:
                dataset.append(Change(what=s, old=a, new=b))
        if old.dataset.name != new.dataset.name:
            dataset.insert(0, Change(what="name", old=old.dataset.name, new=new.dataset.name))
    elif new is not None:
        dataset = [Change(what=s, new=_setting(new.dataset, s)) for s in ("rows", "seed", "model")]
    else:
        dataset = [Change(what=s, old=_setting(old.dataset, s)) for s in ("rows", "seed", "model")]

    def part(attr):
        return getattr(old, attr) if old is not None else (), getattr(new, attr) if new is not None else ()

    of, nf = part("fragments")
    of, nf = dict(of or {}), dict(nf or {})
    changed_fragments = {k for k in of if k in nf and of[k] != nf[k]}
    fragments = _diff_by_name(
        sorted(of.items()), sorted(nf.items()), name=lambda kv: kv[0], text=lambda kv: kv[1],
        changes=lambda a, b: [Change(what="text", diff=text_diff(a[1], b[1]))],
        same_but_name=lambda a, b: a[1] == b[1],
        feeds=lambda n: _feeds(new, n) or _feeds(old, n))
    return SpecDiff(
        dataset=tuple(dataset),
        fields=_diff_by_name(*part("fields"), name=lambda f: f.name, text=tx.field_text, changes=field_changes,
                             same_but_name=_same_but_name),
        joints=_diff_by_name(*part("joints"), name=lambda j: ", ".join(j.fields), text=tx.joint_text,
                             changes=joint_changes, same_but_name=lambda a, b: False),
        prompts=_diff_by_name(*part("prompts"), name=lambda p: p.name, text=tx.prompt_text,
                              changes=lambda a, b: prompt_changes(a, b, changed_fragments),
                              same_but_name=_same_but_name),
        judges=_diff_by_name(*part("judges"), name=lambda j: j.name, text=tx.judge_text,
                             changes=lambda a, b: judge_changes(a, b, changed_fragments), same_but_name=_same_but_name),
        fragments=fragments,
        constraints=_diff_by_name(*part("constraints"), name=lambda c: c.name, text=tx.constraint_text,
                                  changes=constraint_changes, same_but_name=_same_but_name),
        reference=tuple(reference_changes(old.reference if old is not None else None,
                                          new.reference if new is not None else None)),
    )


def _ref_text(r: ir.Reference) -> str:
    return f'{r.name} from "{r.path}" ({r.rows:,} rows, sha256 {r.sha256[:12]})'


def _combo(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "all rows"


def reference_changes(old: Optional[ir.Reference], new: Optional[ir.Reference]) -> list[Change]:
    """The reference added or removed, its settings, and a changed file: its sha256, rows, usable rows and the
    usable real rows of each stratum that moved (what the planner takes off the synthetic rows)."""
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [Change(what="declaration", old=_ref_text(old) if old else None, new=_ref_text(new) if new else None)]
    out = []
    for what in ("name", "path", "complete", "downsample", "holdout"):
        a, b = getattr(old, what), getattr(new, what)
        if a != b:
            out.append(Change(what=what, old=_pct(a) if what == "holdout" else str(a),
                              new=_pct(b) if what == "holdout" else str(b)))
    if old.columns != new.columns:
        out.append(Change(what="columns", old=", ".join(f"{c} -> {f}" for f, c in old.columns.items()),
                          new=", ".join(f"{c} -> {f}" for f, c in new.columns.items())))
    if old.sha256 != new.sha256:
        out.append(Change(what="file", old=f"sha256 {old.sha256[:12]}", new=f"sha256 {new.sha256[:12]}"))
    for what in ("rows", "usable"):
        a, b = getattr(old, what), getattr(new, what)
        if a != b:
            out.append(Change(what="file rows" if what == "rows" else "usable rows", old=f"{a:,}",
                              new=f"{b:,}"))
    counts = {}
    for side, ref in ((0, old), (1, new)):
        for c in ref.counts:
            counts.setdefault(_combo(c.values), [0, 0])[side] = c.rows
    for label, (a, b) in counts.items():
        if a != b:
            out.append(Change(what=f"real rows of {label}", old=f"{a:,}", new=f"{b:,}"))
    return out


def change_lines(d: SpecDiff, limit: int = 100) -> Iterable[str]:
    """Every change as one line, `field sentiment: share of "negative": 30% → 40%`: for tests and plain output."""
    for c in d.dataset:
        yield f"dataset {c.line(limit)}"
    for c in d.reference:
        yield f"reference {c.line(limit)}"
    for kind in KINDS:
        k: KindDiff = getattr(d, kind)
        s = SINGULAR[kind]
        for i in k.added:
            yield f"{s} {i.name} added: {tx.short(i.text, limit)}"
        for i in k.removed:
            yield f"{s} {i.name} removed: {tx.short(i.text, limit)}"
        for r in k.renamed:
            yield f"{s} {r.old} renamed to {r.new}"
        for c in k.changed:
            for ch in c.changes:
                yield f"{s} {c.name}: {ch.line(limit)}"
