"""The semantic spec diff: each kind of change reads as one precise line, and the expression printer writes
text that checks back to the same IR."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from diff_support import REVIEWS, ROOT, checked

from synthc.check import check_file
from synthc.diff import spec_diff
from synthc.diff.spec import change_lines
from synthc.diff.text import expr


def lines(tmp_path: Path, old: str, new: str) -> list[str]:
    return list(change_lines(spec_diff(checked(tmp_path, old), checked(tmp_path, new)), limit=400))


def test_same_spec_has_no_change(tmp_path):
    assert spec_diff(checked(tmp_path, REVIEWS), checked(tmp_path, REVIEWS)).empty


def test_reformatting_and_comments_are_not_changes(tmp_path):
    noisy = "# a comment\n" + REVIEWS.replace("field verified: bool ~ 85% {", "field   verified :  bool ~ 85%   {")
    assert lines(tmp_path, REVIEWS, noisy) == []


def test_share_change_reads_as_the_share_that_moved(tmp_path):
    new = REVIEWS.replace('"negative": 35%', '"negative": 30%').replace('"positive": 40%', '"positive": 45%')
    assert lines(tmp_path, REVIEWS, new) == ['field sentiment: share of "positive": 40% → 45%',
                                            'field sentiment: share of "negative": 35% → 30%']


def test_rows_change(tmp_path):
    assert lines(tmp_path, REVIEWS, REVIEWS.replace("rows = 200", "rows = 180")) == ["dataset rows: 200 → 180"]


def test_conditional_case_change(tmp_path):
    new = REVIEWS.replace('"positive": {4: 40%, 5: 60%}', '"positive": {4: 30%, 5: 70%}')
    assert lines(tmp_path, REVIEWS, new) == ['field rating: given sentiment = "positive": share of 4: 40% → 30%',
                                            'field rating: given sentiment = "positive": share of 5: 60% → 70%']


def test_prompt_text_change_is_a_sentence_diff(tmp_path):
    new = REVIEWS.replace("mostly about {aspect}.", "mostly about {aspect}. Be honest.")
    d = spec_diff(checked(tmp_path, REVIEWS), checked(tmp_path, new))
    assert d.fields.empty and d.constraints.empty
    (changed,) = d.prompts.changed
    (change,) = changed.changes
    assert change.what == "user text"
    assert "+Be honest." in change.diff.split("\n")
    assert not any(line.startswith("-") for line in change.diff.split("\n"))  # nothing was taken out


def test_added_unused_field(tmp_path):
    d = spec_diff(checked(tmp_path, REVIEWS), checked(tmp_path, REVIEWS + "\nfield color: int in 1..10\n"))
    assert [(i.name, i.text) for i in d.fields.added] == [("color", "int in 1..10 ~ uniform (default)")]
    assert list(change_lines(d)) == ["field color added: int in 1..10 ~ uniform (default)"]


def test_rename_is_detected_and_its_uses_show(tmp_path):
    d = spec_diff(checked(tmp_path, REVIEWS), checked(tmp_path, REVIEWS.replace("aspect", "topic")))
    assert [(r.old, r.new) for r in d.fields.renamed] == [("aspect", "topic")]
    assert not d.fields.added and not d.fields.removed
    # title and body only "depend on" the renamed field through the prompt: no line of their own
    assert d.fields.changed == ()
    whats = [c.what for c in d.prompts.changed[0].changes]
    assert "user text" in whats and "reads" in whats


def test_a_changed_field_under_a_new_name_is_removed_plus_added(tmp_path):
    new = REVIEWS.replace("field length: category ~ {", "field size: category ~ {").replace(
        '"long": 20%', '"long": 19%\n  "huge": 1%').replace("{length}", "{size}").replace("length ==", "size ==")
    new = new.replace('length: "short"', 'size: "short"')
    d = spec_diff(checked(tmp_path, REVIEWS), checked(tmp_path, new))
    assert [i.name for i in d.fields.removed] == ["length"]
    assert [i.name for i in d.fields.added] == ["size"]
    assert d.fields.renamed == ()


def test_fragment_change_names_the_prompts_it_feeds(tmp_path):
    new = REVIEWS.replace("not through stars or scores.", "not through stars, scores or emoji.")
    d = spec_diff(checked(tmp_path, REVIEWS), checked(tmp_path, new))
    (frag,) = d.fragments.changed
    assert frag.name == "review_task" and frag.feeds == ("review",)
    diff = frag.changes[0].diff.split("\n")
    assert [line for line in diff if line[:1] in "+-" and line] == [
        "-The review must read as written by a real customer and must carry its sentiment through what happened, "
        "not through stars or scores.",
        "+The review must read as written by a real customer and must carry its sentiment through what happened, "
        "not through stars, scores or emoji."]
    (prompt,) = d.prompts.changed
    assert [c.what for c in prompt.changes] == ["system text (fragment review_task)"]


def test_constraint_changed_added_removed(tmp_path):
    new = REVIEWS.replace("word_count(body) <= 60", "word_count(body) <= 50").replace(
        "constraint title_not_body: lower(trim(title)) != lower(trim(body))\n", "")
    new += '\nconstraint no_shouting: not matches(title, "!!")\n'
    got = lines(tmp_path, REVIEWS, new)
    assert got == ['constraint no_shouting added: not matches(title, "!!")',
                   "constraint title_not_body removed: lower(trim(title)) != lower(trim(body))",
                   'constraint short_is_short: rule: length == "short" => word_count(body) <= 60 → '
                   'length == "short" => word_count(body) <= 50']


def test_distribution_params_and_hints(tmp_path):
    base = ('dataset d { rows = 10 }\nfield age: int in 18..90 ~ normal(mean = 40, sd = 12)\n'
            'field note: text from p { words = 3..12 }\nprompt p { user = "Write about someone aged {age}." }\n')
    new = base.replace("mean = 40", "mean = 45").replace("words = 3..12", "words = 5..12")
    assert lines(tmp_path, base, new) == ["field age: normal mean: 40 → 45", "field note: words: 3..12 → 5..12"]
    other = base.replace("~ normal(mean = 40, sd = 12)", "~ uniform")
    assert lines(tmp_path, base, other) == ["field age: distribution: normal(mean = 40, sd = 12) → uniform"]


def test_prompt_settings(tmp_path):
    new = REVIEWS.replace("temperature = 0.9", "temperature = 0.7").replace("  max_tokens = 400\n", "")
    assert lines(tmp_path, REVIEWS, new) == ["prompt review: temperature: 0.9 → 0.7",
                                            "prompt review: max_tokens: 400 → auto"]


def test_empty_side_is_everything_added_or_removed(tmp_path):
    spec = checked(tmp_path, REVIEWS)
    added = spec_diff(None, spec)
    assert [i.name for i in added.fields.added] == [f.name for f in spec.fields]
    assert [i.name for i in added.constraints.added] == [c.name for c in spec.constraints]
    removed = spec_diff(spec, None)
    assert [i.name for i in removed.prompts.removed] == ["review"]
    assert removed.fields.added == ()


def _cases() -> list[Path]:
    valid = sorted(p for p in (ROOT / "specs/valid").rglob("*.sds")
                   if p.parent.name == "valid" or p.name == "main.sds")
    return valid + sorted((ROOT / "examples").glob("*/*.sds"))


@pytest.mark.parametrize("path", _cases(), ids=lambda p: str(p.relative_to(ROOT)))
def test_printed_expressions_check_back_to_the_same_ir(tmp_path, path):
    """Every constraint and derived field of the corpus, printed and appended to its spec, checks to the same
    expression."""
    original = check_file(path, path.name)
    if original.spec is None:
        pytest.skip("a module, not a spec")
    spec = original.spec
    exprs = [(f"c_{c.name}", c.expr, "constraint") for c in spec.constraints]
    exprs += [(f"f_{f.name}", f.expr, "field") for f in spec.fields if f.expr is not None]
    if not exprs:
        pytest.skip("no expression")
    copy = tmp_path / "case"
    shutil.copytree(path.parent, copy)
    (copy / "synthc.toml").touch()  # the copy is its own project, as the original's folder was inside the repo
    extra = "".join(f"\nconstraint rt_{n}: {expr(e)}\n" if kind == "constraint" else f"\nfield rt_{n} = {expr(e)}\n"
                    for n, e, kind in exprs)
    target = copy / path.name
    target.write_text(target.read_text(encoding="utf-8") + extra, encoding="utf-8")
    again = check_file(target, path.name)
    assert again.spec is not None, [d.message for d in again.diagnostics if d.is_error]
    for n, e, kind in exprs:
        if kind == "constraint":
            assert again.spec.constraints[[c.name for c in again.spec.constraints].index(f"rt_{n}")].expr == e
        else:
            assert again.spec.field(f"rt_{n}").expr == e
