"""The diff for people and scripts: GitHub markdown for a pull-request comment, a rich terminal view, JSON.

All three are functions of the DiffResult alone (no clock, no temporary paths), so a PR comment changes only
when the diff does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..plan.model import value_label
from ..diff import text as tx
from ..diff.data import DataDelta
from ..diff.plan import PlanDelta
from ..diff.spec import KINDS, SINGULAR, Change, KindDiff, SpecDiff, change_lines

if TYPE_CHECKING:
    from rich.console import Console

    from ..diff import DiffResult

DIFF_VERSION = 2  # 2: spec.judges
SHOWN = 25  # rows of a detail table before "… and N more"
LONG = 80  # old/new texts longer than this are shown as a diff block rather than inline


# ---- shared wording ---------------------------------------------------------------------------------------


def usd(x: Optional[float]) -> str:
    if x is None:
        return "unknown"
    if x == 0:
        return "$0"
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


def opt_int(x: Optional[int]) -> str:
    return "–" if x is None else f"{x:,}"


def opt_pct(x: Optional[float]) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


_PLURAL = {"stratum": "strata"}


def _n(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else _PLURAL.get(word, word + 's')}"


def summary(result: "DiffResult") -> str:
    """One line: what changed in the spec; the calls and their cost; rows dropped/added; the data."""
    if not result.ok:
        return "a side has errors: no diff (run `synthc check` on it)"
    parts = []
    if not result.old.exists:
        parts.append(f"new spec ({_n(result.new.spec.dataset.rows, 'row')})")
    elif not result.new.exists:
        parts.append("spec deleted")
    elif result.spec is not None:
        parts.append(", ".join(result.spec.summary_parts()) or "no change to the spec's meaning")
    p = result.plan
    if p is not None and result.new.exists and (p.calls or p.rows_carried):
        parts.append(_calls_phrase(p, f" (~{usd(p.cost_change_usd)})")
                     if p.cache != "found" else
                     f"{_n(p.calls_new, 'new call')} (~{usd(p.cost_change_usd)}), "
                     f"{p.calls_cached:,} answered by the cache" + _carried(p))
    if p is not None and (p.rows_dropped or p.rows_added) and result.old.exists and result.new.exists:
        rows = [f"{_n(p.rows_dropped, 'row')} dropped"] if p.rows_dropped else []
        if p.rows_added:
            rows.append(f"{p.rows_added:,} added" if rows else f"{_n(p.rows_added, 'row')} added")
        parts.append(", ".join(rows))
    d = result.data
    if d is not None:
        moved = [f"{d.rows_changed:,} changed"] * bool(d.rows_changed) + [f"{d.rows_added:,} added"] * bool(
            d.rows_added) + [f"{d.rows_removed:,} removed"] * bool(d.rows_removed)
        text = "data: " + (", ".join(moved) + " rows" if moved else "no row changed")
        failing = sum(1 for c in d.checks if c.new == "failed")
        fixed = sum(1 for c in d.checks if c.new == "passed")
        if failing:
            text += f"; {_n(failing, 'check')} now failing"
        if fixed:
            text += f"; {_n(fixed, 'check')} now passing"
        parts.append(text)
    return "; ".join(parts)


def _title(result: "DiffResult") -> str:
    if result.base is not None:
        return f"`{result.new.label}` against `{result.base}`"
    return f"`{result.old.label}` → `{result.new.label}`"


# ---- markdown -------------------------------------------------------------------------------------------------


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(s: str) -> str:
    s = " ".join(s.split())
    if "`" not in s:
        return f"`{s}`"
    return f"`` {s} ``"


def _cell(s: str) -> str:
    return _esc(tx.short(s, 80)).replace("|", "\\|")


def _fence(body: str, lang: str, indent: str) -> list[str]:
    ticks = "````" if "```" in body else "```"
    return [f"{indent}{ticks}{lang}", *(f"{indent}{line}" for line in body.split("\n")), f"{indent}{ticks}"]


def _change_md(c: Change, indent: str) -> list[str]:
    if c.diff is not None:
        return [f"{indent}- {_esc(c.what)} changed:", *_fence(c.diff or "(whitespace only)", "diff", indent + "  ")]
    long = any(x is not None and (len(x) > LONG or "\n" in x) for x in (c.old, c.new))
    if long:
        body = [f"- {line}" for line in (c.old or "").split("\n")] * (c.old is not None)
        body += [f"+ {line}" for line in (c.new or "").split("\n")] * (c.new is not None)
        return [f"{indent}- {_esc(c.what)}:", *_fence("\n".join(body), "diff", indent + "  ")]
    old = "–" if c.old is None else _code(c.old)
    new = "–" if c.new is None else _code(c.new)
    return [f"{indent}- {_esc(c.what)}: {old} → {new}"]


def _kind_md(kind: str, d: KindDiff) -> list[str]:
    out = [f"**{kind.capitalize()}**", ""]
    one = SINGULAR[kind]
    for i in d.added:
        feeds = f" (feeds {', '.join(i.feeds)})" if i.feeds else ""
        out.append(f"- added {one} `{i.name}`{feeds}: {_code(tx.short(i.text, 200))}")
    for i in d.removed:
        out.append(f"- removed {one} `{i.name}`: {_code(tx.short(i.text, 200))}")
    for r in d.renamed:
        out.append(f"- renamed {one} `{r.old}` → `{r.new}` (otherwise identical)")
    for c in d.changed:
        feeds = f" (feeds {', '.join(c.feeds)})" if c.feeds else ""
        out.append(f"- `{c.name}`{feeds}")
        for ch in c.changes:
            out += _change_md(ch, "  ")
    return out + [""]


def _spec_md(s: SpecDiff) -> list[str]:
    out = []
    if s.dataset:
        out += ["**Dataset**", ""]
        for c in s.dataset:
            out += _change_md(c, "")
        out.append("")
    if s.reference:
        out += ["**Reference**", ""]
        for c in s.reference:
            out += _change_md(c, "")
        out.append("")
    for kind in KINDS:
        d = getattr(s, kind)
        if not d.empty:
            out += _kind_md(kind, d)
    return out


def _details(summary_html: str, body: list[str]) -> list[str]:
    return [f"<details><summary>{summary_html}</summary>", "", *body, "</details>", ""]


def _plan_md(p: PlanDelta, old_exists: bool) -> list[str]:
    out = ["| | before | after |", "| --- | --: | --: |",
           f"| rows | {opt_int(p.old_rows)} | {p.new_rows:,} |",
           f"| strata | {opt_int(p.old_strata)} | {p.new_strata:,} |",
           f"| round-1 calls (full build) | {opt_int(p.old_calls)} | {p.new_calls:,} |",
           f"| estimated cost (full build) | {usd(p.old_cost_usd) if old_exists else '–'} | {usd(p.new_cost_usd)} |",
           ""]
    out.append(f"Rows kept {p.rows_kept:,}, dropped {p.rows_dropped:,}, added {p.rows_added:,}; "
               f"{_n(p.strata_unchanged, 'stratum')} unchanged, {len(p.strata):,} changed.")
    out.append("")
    if p.prompts:
        out += ["| prompt | calls | answered by the cache | new | new calls' cost | same request as base "
                "| rows carried |",
                "| --- | --: | --: | --: | --: | --: | --: |"]
        for c in p.prompts:
            new = f"{c.new:,}" + (f" ({c.unknown:,} after new answers)" if c.unknown else "")
            out.append(f"| {_cell(c.prompt)} | {c.calls:,} | {c.cached:,} | {new} | {usd(c.new_cost_usd)} | "
                       f"{c.unchanged:,} | {c.carried:,} |")
        out.append("")
    if p.cache == "off":
        out += ["The cache was not consulted (no endpoint identity to compute keys with).", ""]
    if p.strata:
        names = list(dict.fromkeys(n for s in p.strata for n in s.values))
        shown = sorted(p.strata, key=lambda s: (-abs(s.new_rows - s.old_rows), s.key))[:SHOWN]
        out += ["| " + " | ".join(_cell(n) for n in names) + " | before | after | change |",
                "| " + " | ".join("---" for _ in names) + " | --: | --: | --: |"]
        for s in shown:
            vals = " | ".join(_cell(value_label(s.values[n])) if n in s.values else "" for n in names)
            out.append(f"| {vals} | {s.old_rows:,} | {s.new_rows:,} | {s.new_rows - s.old_rows:+,} |")
        if len(p.strata) > SHOWN:
            out.append(f"\n… and {len(p.strata) - SHOWN:,} more changed strata (all in `--json`).")
        out.append("")
    return out


def _data_md(d: DataDelta) -> list[str]:
    out = ["| rows before | rows after | added | removed | changed | unchanged |", "| --: | --: | --: | --: | --: | --: |",
           f"| {d.old_rows:,} | {d.new_rows:,} | {d.rows_added:,} | {d.rows_removed:,} | {d.rows_changed:,} | "
           f"{d.rows_unchanged:,} |", ""]
    if d.changed_fields:
        out += ["Changed values per field: " + ", ".join(f"`{f}` {n:,}" for f, n in d.changed_fields.items()), ""]
    if d.checks:
        out += ["| check | before | after | violations |", "| --- | --- | --- | --- |"]
        for c in d.checks:
            viol = f"{opt_int(c.old_violations)} → {opt_int(c.new_violations)}"
            out.append(f"| {_cell(c.name)} | {c.old or '–'} | {c.new or '–'} | {viol} |")
        out.append("")
    elif not d.checks_compared:
        out += ["Checks not compared: a build folder has no report.json.", ""]
    if d.marginals:
        shown = sorted(d.marginals, key=lambda m: (-abs(m.delta), m.field, m.value))[:SHOWN]
        out += [f"Marginal shifts (from {'report.json' if d.marginals_from == 'report' else 'the rows'}):", "",
                "| field | value | before | after | change |", "| --- | --- | --: | --: | --: |"]
        for m in shown:
            out.append(f"| {_cell(m.field)} | {_cell(m.value)} | {opt_pct(m.old)} | {opt_pct(m.new)} | "
                       f"{100 * m.delta:+.1f} pp |")
        if len(d.marginals) > SHOWN:
            out.append(f"\n… and {len(d.marginals) - SHOWN:,} more.")
        out.append("")
    if d.evaluation:
        out += ["Against real data (faithful: lower distance and an AUC nearer 0.5 is better; private: lower; useful: "
                "higher):", "", "| answer | figure | before | after | change |", "| --- | --- | --: | --: | --: |"]
        for e in d.evaluation:
            out.append(f"| {e.answer} | `{_cell(e.figure)}` | {_fig(e.old)} | {_fig(e.new)} | {_move(e.old, e.new)} |")
        out.append("")
    for label, ids in (("added", d.added), ("removed", d.removed), ("changed", [c.id for c in d.changed])):
        if ids:
            more = f" … ({len(ids) - 10:,} more)" if len(ids) > 10 else ""
            out += [f"Rows {label}: " + ", ".join(f"`{i}`" for i in ids[:10]) + more, ""]
    return out


def _fig(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def _move(a, b) -> str:
    return "–" if a is None or b is None else f"{b - a:+.3f}"


def to_markdown(result: "DiffResult") -> str:
    """GitHub-flavoured markdown for a PR comment: a title and a one-line summary, then folded details."""
    out = [f"### synthc diff: {_title(result)}", "", f"**{_esc(summary(result))}**", ""]
    if not result.ok:
        return "\n".join(out)
    s = result.spec
    if s is not None and not s.empty and result.old.exists and result.new.exists:
        n = len(list(change_lines(s)))
        out += _details(f"<b>Spec</b>: {_n(n, 'change')}", _spec_md(s))
    elif s is not None and not (result.old.exists and result.new.exists):
        out += _details("<b>Spec</b>: " + ("added" if not result.old.exists else "deleted"), _spec_md(s))
    p = result.plan
    if p is not None:
        head = f"<b>Plan</b>: {opt_int(p.old_rows)} → {p.new_rows:,} rows"
        if result.new.exists and (p.calls or p.rows_carried):
            head += "; " + (_calls_phrase(p) if p.cache != "found" else
                            f"{_n(p.calls_new, 'new call')}, {p.calls_cached:,} from the cache" + _carried(p))
        out += _details(head, _plan_md(p, result.old.exists))
    d = result.data
    if d is not None:
        out += _details(f"<b>Data</b>: {d.old_rows:,} → {d.new_rows:,} rows", _data_md(d))
    if result.notes:
        out += ["Notes:", "", *(f"- {_esc(n)}" for n in result.notes), ""]
    return "\n".join(out).rstrip("\n") + "\n"


# ---- rich -------------------------------------------------------------------------------------------------------


def render(result: "DiffResult", console: "Console") -> None:
    """The diff on a terminal: the summary, the spec's change lines, the plan's and the data's tables."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"synthc diff: {_title(result).replace('`', '')}", style="bold"))
    console.print(Text(summary(result)))
    if not result.ok:
        return
    if result.spec is not None and not result.spec.empty:
        console.print(Text("\nSpec", style="bold"))
        for line in change_lines(result.spec):
            style = "green" if " added" in line.split(":")[0] else "red" if " removed" in line.split(":")[0] else ""
            console.print(Text("  " + line, style=style))
        for kind in KINDS:  # prose diffs in full
            for c in getattr(result.spec, kind).changed:
                for ch in c.changes:
                    if ch.diff:
                        console.print(Text(f"  {SINGULAR[kind]} {c.name}: {ch.what}", style="bold"))
                        for line in ch.diff.split("\n"):
                            console.print(Text("    " + line, style="green" if line.startswith("+") else
                                               "red" if line.startswith("-") else "dim"))
    p = result.plan
    if p is not None:
        t = Table(title="Plan", title_justify="left")
        for col, just in (("", "left"), ("before", "right"), ("after", "right")):
            t.add_column(col, justify=just)
        t.add_row("rows", opt_int(p.old_rows), f"{p.new_rows:,}")
        t.add_row("strata", opt_int(p.old_strata), f"{p.new_strata:,}")
        t.add_row("round-1 calls", opt_int(p.old_calls), f"{p.new_calls:,}")
        t.add_row("estimated cost", usd(p.old_cost_usd) if result.old.exists else "–", usd(p.new_cost_usd))
        console.print(t)
        console.print(Text(f"rows kept {p.rows_kept:,}, dropped {p.rows_dropped:,}, added {p.rows_added:,}"))
        if p.prompts:
            c = Table(title="Calls of the new plan (round 1)", title_justify="left")
            for col in ("prompt", "calls", "cached", "new", "new cost", "same as base", "rows carried"):
                c.add_column(col, justify="left" if col == "prompt" else "right")
            for pc in p.prompts:
                c.add_row(pc.prompt, f"{pc.calls:,}", f"{pc.cached:,}", f"{pc.new:,}", usd(pc.new_cost_usd),
                          f"{pc.unchanged:,}", f"{pc.carried:,}")
            console.print(c)
        if p.strata:
            names = list(dict.fromkeys(n for s in p.strata for n in s.values))
            st = Table(title=f"Changed strata ({len(p.strata):,})", title_justify="left")
            for n in names:
                st.add_column(n)
            for col in ("before", "after", "change"):
                st.add_column(col, justify="right")
            for s in sorted(p.strata, key=lambda s: (-abs(s.new_rows - s.old_rows), s.key))[:SHOWN]:
                st.add_row(*(value_label(s.values[n]) if n in s.values else "" for n in names), f"{s.old_rows:,}",
                           f"{s.new_rows:,}", f"{s.new_rows - s.old_rows:+,}")
            console.print(st)
    d = result.data
    if d is not None:
        console.print(Text(f"\nData: {d.old_rows:,} → {d.new_rows:,} rows; added {d.rows_added:,}, removed "
                           f"{d.rows_removed:,}, changed {d.rows_changed:,}", style="bold"))
        for c in d.checks:
            console.print(Text(f"  check {c.name}: {c.old or '–'} → {c.new or '–'}",
                               style="red" if c.new == "failed" else "green"))
        for m in sorted(d.marginals, key=lambda m: (-abs(m.delta), m.field, m.value))[:SHOWN]:
            console.print(Text(f"  {m.field} = {m.value}: {opt_pct(m.old)} → {opt_pct(m.new)}"))
        for e in d.evaluation:
            console.print(Text(f"  {e.answer} {e.figure}: {_fig(e.old)} → {_fig(e.new)} ({_move(e.old, e.new)})"))
    for n in result.notes:
        console.print(Text(f"note: {n}", style="yellow"))


# ---- JSON -------------------------------------------------------------------------------------------------------


def _side_json(side) -> dict:
    spec = side.spec
    return {"label": side.label, "exists": side.exists, "dataset": spec.dataset.name if spec else None,
            "ir_sha256": spec.digest() if spec else None, "endpoint": side.identity}


def to_json_dict(result: "DiffResult") -> dict:
    """The `synthc diff --json` object. Keys (stable; extend, never rename):

    diff_version  2 (2: spec.judges)
    ok            false when a side has errors (then spec/plan/data are null and `diagnostics` says why)
    changed       whether anything differs (spec meaning, plan quotas, data rows)
    summary       the one-line summary the markdown opens with
    base          the git revision for `--base`, else null
    old, new      {label, exists, dataset, ir_sha256, endpoint (the cache-key identity, null if unknown)}
    spec          {dataset: [change], fields|joints|prompts|judges|fragments|constraints: {added: [{name, text, feeds}],
                  removed: [...], renamed: [{old, new}], changed: [{name, changes: [change], feeds}]}};
                  reference: [change] (the declaration, its settings, a changed file: `file` sha256, `file rows`,
                  `usable rows`, `real rows of STRATUM`);
                  change = {what, old, new, diff}: old/new display text (null: absent), diff a unified diff
    plan          {old_rows, new_rows, old_strata, new_strata, strata: [{key, values, old_rows, new_rows}] (changed
                  strata only), strata_unchanged, rows_kept, rows_dropped, rows_added, dropped_ids (first 1000),
                  old_calls, new_calls, old_cost_usd, new_cost_usd, prompts: [{prompt, calls, rows, cached, new, unknown,
                  unchanged, new_cost_usd, cost_usd, carried}], calls, calls_cached, calls_new, calls_unknown,
                  calls_unchanged, rows_carried, cost_change_usd, cache (found | empty | off), identity}
    data          null without build folders, else {old_rows, new_rows, rows_added, rows_removed, rows_changed,
                  rows_unchanged, added, removed (ids, first 1000), changed: [{id, fields}], changed_fields
                  {field: rows}, marginals: [{field, value, old, new}], marginals_from (report | rows),
                  checks: [{name, kind, old, new, old_violations, new_violations}], checks_compared,
                  evaluation: [{answer, figure, old, new}], evaluation_compared}
    notes         [text]
    diagnostics   [{side: old | new, code, severity, message, file, line, col, ...}]
    """
    plan = None
    if result.plan is not None:
        plan = result.plan.model_dump(mode="json")
        ids = []
        for i in result.plan.dropped_ids():
            if len(ids) == 1000:
                break
            ids.append(i)
        plan["dropped_ids"] = ids
    return {
        "diff_version": DIFF_VERSION,
        "ok": result.ok,
        "changed": result.changed,
        "summary": summary(result),
        "base": result.base,
        "old": _side_json(result.old),
        "new": _side_json(result.new),
        "spec": result.spec.model_dump(mode="json") if result.spec is not None else None,
        "plan": plan,
        "data": result.data.model_dump(mode="json") if result.data is not None else None,
        "notes": list(result.notes),
        "diagnostics": [{"side": "old" if side is result.old else "new", **d.as_json()}
                        for side, d in result.diagnostics()],
    }


def _carried(p) -> str:
    """rows_carried: row answers (rows times prompts) an earlier build stored, which the build takes without
    asking (run.rowstore)."""
    return f", {_n(p.rows_carried, 'row answer')} carried from earlier builds" if p.rows_carried else ""


def _calls_phrase(p, cost: str = "") -> str:
    """The calls when the cache could not be consulted: no endpoint to key it by (`off`), or no answers stored
    for this endpoint (`empty`). Then nothing is known to be cached: say so, and whose cache it was, rather
    than count every call as new and none as answered."""
    if p.cache == "off":
        return f"{_n(p.calls, 'call')}{cost}; cache not consulted (no endpoint to key it by: pass --endpoint/--model)"
    who = f" for {p.identity}" if p.identity else ""
    return f"{_n(p.calls, 'call')}{cost}; the cache could not be consulted (it holds no answers{who})" + _carried(p)
