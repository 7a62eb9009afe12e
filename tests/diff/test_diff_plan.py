"""The plan delta: rows dropped and added by row id, and the round-1 calls the cache already answers.

The cache is filled the way `synthc build` fills it (its executor, a fake model behind the build's own client
identity), and the diff's replay is checked against the executor run offline over the same cache.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from diff_support import REVIEWS, fill_cache, offline_round, prepared

from synthc.endpoint import choose
from synthc.tasks.build import LazyEmbedded
from synthc.diff import diff_files
from synthc.plan import row_id


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("SYNTHC_CACHE", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def spec_file(folder: Path, text: str, name: str = "reviews.sds") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "synthc.toml").touch()
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The reviews example, built once with the fake model: (spec path, cache folder, calls the build made)."""
    root = tmp_path_factory.mktemp("base")
    path = spec_file(root / "old", REVIEWS)
    outcome, fake = fill_cache(path, root / "cache")
    return path, root / "cache", fake.calls


def variant(tmp_path: Path, text: str) -> Path:
    return spec_file(tmp_path / "new", text)


def test_embedded_identity_is_the_same_on_both_build_paths(tmp_path):
    """Online (LazyEmbedded) and offline (Endpoint.identity) builds key the embedded model alike, portless."""
    ep = choose("embedded", spec_file(tmp_path, REVIEWS), offline=True)
    assert ep.identity == LazyEmbedded.endpoint == "embedded"


def test_unchanged_spec_every_call_is_answered(tmp_path, base):
    old, cache, made = base
    result = diff_files(old, variant(tmp_path, REVIEWS), cache_dir=cache)
    p = result.plan
    assert p.calls == made and p.calls_cached == made and p.calls_new == 0
    assert p.cost_change_usd == 0 and p.rows_dropped == 0 and p.rows_added == 0 and p.strata == ()
    assert p.cache == "found"


def test_without_the_cache_every_call_is_new(tmp_path, base):
    old, _, made = base
    result = diff_files(old, variant(tmp_path, REVIEWS), cache_dir=tmp_path / "empty")
    p = result.plan
    assert p.cache == "empty" and p.calls_cached == 0 and p.calls_new == made
    # the judge's requests hold the text not written yet: unknown; the rest are the base's own requests
    assert p.calls_unknown == result.new.plan.judge_calls > 0
    assert p.calls_unchanged == made - p.calls_unknown  # the same requests as the base: a build of the base would answer them


def test_prompt_text_change_answers_nothing(tmp_path, base):
    old, cache, made = base
    new = REVIEWS.replace("mostly about {aspect}.", "mostly about {aspect}. Be honest.")
    p = diff_files(old, variant(tmp_path, new), cache_dir=cache).plan
    assert p.calls == made and p.calls_cached == 0 and p.calls_new == made
    assert p.rows_dropped == 0  # the same rows, rewritten


def test_unused_numeric_field_keeps_every_answer(tmp_path, base):
    old, cache, made = base
    p = diff_files(old, variant(tmp_path, REVIEWS + "\nfield color: int in 1..10\n"), cache_dir=cache).plan
    assert p.calls_cached == made and p.calls_new == 0 and p.strata == ()


def test_unused_categorical_field_keeps_every_row_and_answer(tmp_path, base):
    """A categorical field no prompt reads is not part of any row id or request (plan.identity): its values are
    dealt to the rows after generation, so adding it keeps every id and every cached answer."""
    old, cache, made = base
    new = REVIEWS + '\nfield color: category ~ {"red": 50%, "blue": 50%}\n'
    result = diff_files(old, variant(tmp_path, new), cache_dir=cache)
    p = result.plan
    assert p.calls == made and p.calls_cached == made and p.calls_new == 0
    assert p.rows_dropped == 0 and p.rows_added == 0 and p.rows_kept == 200
    assert result.new.plan.strata == result.old.plan.strata  # the same quotas to generate
    dealt = Counter()
    for c in result.new.plan.dealt:
        dealt[c.values["color"]] += c.rows
    assert dealt == {"red": 100, "blue": 100}  # dealt over the rows after generation


def test_fewer_rows_drop_exactly_the_surplus_of_shrinking_strata(tmp_path, base):
    old, cache, _ = base
    result = diff_files(old, variant(tmp_path, REVIEWS.replace("rows = 200", "rows = 180")), cache_dir=cache)
    old_plan, new_plan, p = result.old.plan, result.new.plan, result.plan
    gone = set(old_plan.row_ids()) - set(new_plan.row_ids())
    assert set(p.dropped_ids()) == gone and p.rows_dropped == len(gone) > 0
    assert set(p.added_ids()) == set(new_plan.row_ids()) - set(old_plan.row_ids())
    new_quota = {s.key: s.rows for s in new_plan.strata}
    per_key = Counter(i.rsplit("-", 1)[0] for i in gone)
    for s in old_plan.strata:
        surplus = max(0, s.rows - new_quota.get(s.key, 0))
        assert per_key.get(s.key, 0) == surplus
        # a stratum drops its highest indices: the first new_quota rows keep their ids
        kept = [row_id(s.key, i) for i in range(min(s.rows, new_quota.get(s.key, 0)))]
        assert not gone & set(kept)
    assert p.rows_kept + p.rows_dropped == 200 and p.rows_kept + p.rows_added == 180


def test_replay_matches_the_build_offline(tmp_path, base):
    """For a change that keeps some answers, the executor run offline finds exactly the answers the diff
    counts as cached, and misses exactly the calls it counts as new."""
    old, cache, _ = base
    new = variant(tmp_path, REVIEWS.replace("rows = 200", "rows = 180"))
    p = diff_files(old, new, cache_dir=cache).plan
    assert 0 < p.calls_cached < p.calls
    counters, stopped = offline_round(new, cache)
    # with no barrier between prompts, the offline round asks every prompt (the writer, then its judge) for the
    # rows whose answers the cache holds, and stops at the end of the round for the writer calls it misses
    writer = next(c for c in p.prompts if c.prompt == "review")
    assert 0 < writer.cached < writer.calls
    assert counters.cache_hits == sum(c.cached for c in p.prompts)
    assert stopped is not None and f"no answer for {writer.new} call" in stopped.message


TWO_STAGES = """dataset qa { rows = 12, seed = 3, model = "MODEL" }
field topic: category ~ {"cats": 50%, "dogs": 50%}
field score: float in 0..1
field question: text from ask { words = 3..12 }
field answer: text from reply { words = 3..20 }
prompt ask { user = "Ask a question about {topic}." }
prompt reply { user = "Answer this question: {question}" }
constraint mostly_low: score < 0.7
constraint picky: not matches(question, "^[a-h]")
"""


@pytest.mark.parametrize("model", ["embedded", "gpt-4o-mini"])
def test_later_prompts_are_replayed_from_cached_answers(tmp_path, model):
    """A prompt reading another's outputs is predicted from the cached answers of the first; rows that break a
    constraint on planned values are never asked (so calls of several rows shrink and change id), nor are rows
    whose cached question breaks `picky` asked for an answer."""
    text = TWO_STAGES.replace("MODEL", model)
    old = spec_file(tmp_path / "old", text, "qa.sds")
    cache = tmp_path / "cache"
    fill_cache(old, cache)
    spec, prep = prepared(old)
    assert prep.plan.prompts[1].after == ("ask",)

    same = diff_files(old, spec_file(tmp_path / "same", text, "qa.sds"), cache_dir=cache).plan
    asked = {pp.prompt: pp for pp in same.prompts}
    assert same.calls_new == 0 and asked["reply"].calls > 0
    # rows with score >= 0.7 are dropped before any call (a call of several rows shrinks and changes its id)
    assert asked["ask"].rows < prep.plan.prompts[0].rows
    assert asked["reply"].rows < asked["ask"].rows  # the fake's questions starting a..h were rejected
    counters, stopped = offline_round(old, cache)
    assert stopped is None and counters.cache_hits >= same.calls

    changed = text.replace("Answer this question:", "Answer briefly:")
    p = diff_files(old, spec_file(tmp_path / "b", changed, "qa.sds"), cache_dir=cache).plan
    by = {pp.prompt: pp for pp in p.prompts}
    assert by["ask"].new == 0 and by["reply"].cached == 0 and by["reply"].new == by["reply"].calls > 0
    assert by["reply"].unknown == 0  # the questions are cached, so the new requests are known exactly
    hits, stopped = offline_round(spec_file(tmp_path / "b", changed, "qa.sds"), cache)
    assert hits.cache_hits == by["ask"].calls and f"no answer for {by['reply'].calls} call" in stopped.message

    first = text.replace("Ask a question about", "Ask one question about")
    p = diff_files(old, spec_file(tmp_path / "a", first, "qa.sds"), cache_dir=cache).plan
    by = {pp.prompt: pp for pp in p.prompts}
    assert by["ask"].cached == 0 and by["reply"].cached == 0
    assert by["reply"].unknown == by["reply"].calls > 0  # their questions are not written yet


def test_cost_of_the_change_is_the_plans_estimate_for_the_new_calls(tmp_path):
    """With nothing cached, the change costs what the plan says a full build costs (priced per prompt, as the
    planner prices it); with everything cached, nothing."""
    text = REVIEWS.replace('model = "embedded"', 'model = "gpt-4o-mini"')
    old = spec_file(tmp_path / "old", text)
    new = variant(tmp_path, text.replace("mostly about {aspect}.", "mostly about {aspect}. Be honest."))
    result = diff_files(old, new, cache_dir=tmp_path / "empty")
    assert result.plan.cost_change_usd == result.new.plan.cost_est_usd > 0
    fill_cache(new, tmp_path / "cache")
    assert diff_files(old, new, cache_dir=tmp_path / "cache").plan.cost_change_usd == 0
