"""`synthc build` end to end against the loopback fake OpenAI server, over real HTTP: counts, rebuilds from the
cache, faults, budgets, the lock, secrets, and the validate / ingest / cache commands around it."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from fake_openai import (FakeOpenAI, Fault, bad_rows, echo_auth, empty, rate_limit, same_text, server_error, slow,
                         truncated,
                         wrong_count)
from project_env import project_env
from synthc.endpoint import choose
from synthc.check import check_file
from synthc.cli import main
from synthc.generate import executor
from synthc.plan import build_plan
from synthc.profiles import profile_for
from synthc.run.cache import AnswerCache
from synthc.run.rowstore import RowStore

SECRET = "sk-test-SECRET123"

# 24 rows in 4 strata, 3 rows per call; `note` is written by the model (the fake writes 2-6 words).
SPEC = """dataset notes {
  rows = 24
  seed = 3
  model = "gpt-4o-mini"
  formats = [jsonl, parquet]
}

field topic: category ~ {
  "a": 50%
  "b": 50%
}
field tone: category ~ {
  "dry": 25%
  "warm": 75%
}
field n: int in 1..3
field note: text from write { words = 2..6 }
field mood: enum ["calm", "busy"] from write

prompt write {
  user = "Write a {tone} note about {topic} number {n}."
  rows_per_call = 3
}

constraint fits: word_count(note) <= 6
constraint avg: mean(n) >= 1
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A project folder with its own cache, fast retries and a key that must never leak."""
    return project_env(tmp_path, monkeypatch, key=SECRET, timeout="0.5")


def write_spec(root: Path, text: str = SPEC, name: str = "notes.sds") -> Path:
    p = root / name
    p.write_text(text, encoding="utf-8")
    return p


def build(spec: Path, fake: FakeOpenAI, *flags: str, out: str = "out") -> int:
    return main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(spec.parent / out), "--concurrency",
                 "4", *flags])


def plan_of(spec: Path):
    return build_plan(check_file(spec).spec, None, profile_for("gpt-4o-mini"))


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def report_of(root: Path, out: str = "out") -> dict:
    return json.loads((root / out / "report.json").read_text())


@pytest.fixture
def asked(monkeypatch) -> list[tuple[str, int]]:
    """(stratum key, row index) of every row a request asked for, as the build made its requests (a request shows
    rows by their number in the call, never by id: docs/BUILD.md "Request format")."""
    out: list[tuple[str, int]] = []
    made = executor.request_body

    def recording(spec, plan, pp, call, rows):
        out.extend((r["id"].rsplit("-", 1)[0], int(r["id"].rsplit("-", 1)[1])) for r in rows)
        return made(spec, plan, pp, call, rows)

    monkeypatch.setattr(executor, "request_body", recording)
    return out


def rows_in(body: dict) -> int:
    """How many rows a request asks for: its schema's item count, 1 for a bare row."""
    schema = body["response_format"]["json_schema"]["schema"]
    return schema["properties"]["rows"]["maxItems"] if "rows" in schema["properties"] else 1


def assert_exact(spec: Path, rows: list[dict]) -> None:
    """Rows per stratum equal the plan's quotas, every marginal is the planned one, and no `_id` repeats."""
    plan = plan_of(spec)
    ids = [r["_id"] for r in rows]
    assert len(ids) == len(set(ids)) == plan.rows
    per_stratum = Counter(i.rsplit("-", 1)[0] for i in ids)
    assert per_stratum == {s.key: s.rows for s in plan.strata}
    for m in plan.marginals:
        got = Counter(r[m.field] for r in rows)
        assert got == {v.value: v.planned_rows for v in m.values if v.planned_rows}
    for r in rows:  # each row carries its stratum's sampled values
        s = plan.stratum(r["_id"].rsplit("-", 1)[0])
        assert {k: r[k] for k in s.values} == s.values


# ---- counting and rebuilding ---------------------------------------------------------------------------------


def test_calls_and_tokens_are_counted_and_equal_the_plan(env, fake):
    spec = write_spec(env)
    assert build(spec, fake) == 0
    r = report_of(env)
    plan = plan_of(spec)
    assert fake.calls == plan.calls == r["calls"] == r["calls_full_rebuild"]
    assert r["cache_hits"] == 0 and r["rounds"] == 1
    assert (r["prompt_tokens"], r["completion_tokens"]) == (fake.prompt_tokens, fake.completion_tokens)
    assert r["cost_usd"] == pytest.approx((fake.prompt_tokens * 0.15 + fake.completion_tokens * 0.60) / 1e6, abs=1e-6)
    assert_exact(spec, rows_of(env / "out" / "notes.jsonl"))
    assert {c["name"]: c["passed"] for c in r["checks"] if c["kind"] != "type"} == {
        "schema": True, "fits": True, "avg": True}
    assert {c["name"]: c["passed"] for c in r["checks"] if c["kind"] == "type"} == {
        f"type:{n}": True for n in ("topic", "mood", "tone", "n", "note")}  # every value the build wrote fits
    assert all(set(c) >= {"name", "kind", "passed", "violations", "sql"} for c in r["checks"])
    assert r["marginals"]["tone"]["warm"]["target"] == 0.75 and r["marginals"]["tone"]["warm"]["actual"] == 0.75
    assert r["tvd"] == {"topic": 0.0, "tone": 0.0}  # n has no declared target


def test_an_unchanged_rebuild_makes_no_call_and_writes_the_same_bytes(env, fake):
    spec = write_spec(env)
    assert build(spec, fake) == 0
    first = {p.name: p.read_bytes() for p in (env / "out").iterdir()}
    lock = (env / "notes.sds.lock").read_bytes()
    calls = fake.calls
    assert build(spec, fake) == 0
    assert fake.calls == calls
    again = {p.name: p.read_bytes() for p in (env / "out").iterdir()}
    assert set(first) == {"notes.jsonl", "notes.parquet", "report.json", "report.md", "report.html", "README.md"}
    for name in ("notes.jsonl", "notes.parquet"):
        assert again[name] == first[name], name
    assert (env / "notes.sds.lock").read_bytes() == lock
    r = report_of(env)
    # every row asked in round 1 (quota and spares, one prompt) is carried from the row store: no call is even
    # looked up in the cache
    asked = sum(pp.rows for pp in plan_of(spec).prompts)
    assert (r["calls"], r["cache_hits"], r["calls_full_rebuild"], r["rows_carried"]) == (0, 0, calls, asked)
    # the reports differ only in this run's counters
    a, b = json.loads(first["report.json"]), r
    run_keys = {"calls", "cache_hits", "rows_carried", "prompt_tokens", "completion_tokens", "cost_usd"}
    assert {k: v for k, v in a.items() if k not in run_keys} == {k: v for k, v in b.items() if k not in run_keys}


def test_the_jsonl_is_canonical_and_the_lock_matches_it(env, fake):
    spec = write_spec(env)
    assert build(spec, fake) == 0
    data = (env / "out" / "notes.jsonl").read_bytes()
    lines = data.decode().splitlines()
    rows = [json.loads(x) for x in lines]
    assert lines == [json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":")) for r in rows]
    assert [r["_id"] for r in rows] == sorted(r["_id"] for r in rows)
    assert set(rows[0]) == {"_id", "topic", "tone", "n", "note", "mood"}
    lock = json.loads((env / "notes.sds.lock").read_text())
    assert lock["dataset_sha256"] == hashlib.sha256(data).hexdigest()
    assert lock["ir_sha256"] == check_file(spec).spec.digest()
    assert lock["lock_version"] == 1 and lock["seed"] == 3 and lock["model"] == "gpt-4o-mini"
    cache = AnswerCache(env / "cache")
    assert set(lock["calls"]) == set(cache.keys())
    assert lock["acceptance"]["rate"] == 1.0


def test_rejected_rows_are_topped_up_with_only_the_deficit(env, fake, asked):
    # the fake writes 2-6 words: 3 of 5 lengths pass (at 2 of 5, a round of 30 rows can fall under the 25% yield floor)
    spec = write_spec(env, SPEC.replace("word_count(note) <= 6", "word_count(note) <= 4"))
    assert build(spec, fake) == 0
    r = report_of(env)
    rows = rows_of(env / "out" / "notes.jsonl")
    assert_exact(spec, rows)
    assert all(len(row["note"].split()) <= 4 for row in rows)
    assert r["rounds"] >= 2
    rejected = r["rejected"]["fits"]
    assert rejected["count"] > 0 and 1 <= len(rejected["examples"]) <= 3
    assert all(len(e["values"]["note"].split()) > 4 for e in rejected["examples"])
    # a top-up asks for new rows only, and only in strata that were short after round 1
    plan = plan_of(spec)
    assert len(asked) == len(set(asked))
    for s in plan.strata:
        more = any(i >= s.requested for key, i in asked if key == s.key)
        short_after_round_1 = any(int(row["_id"].rsplit("-", 1)[1]) >= s.requested
                                  for row in rows if row["_id"].startswith(s.key))
        assert more == short_after_round_1, s.key
    assert r["calls"] > plan_of(spec).calls
    assert "| fits |" in (env / "out" / "report.md").read_text()


def test_repeated_text_is_asked_again_until_unique_holds(env, fake):
    """`unique(note)` is repaired, not just reported: the first call answers three rows with the same note;
    the first copy (by `_id`) stays, the two repeats are rejected under the constraint and replaced (by spare
    rows, else by a top-up round)."""
    spec = write_spec(env, SPEC + "constraint distinct_notes: unique(note)\n")
    fake.push(same_text("note"))
    assert build(spec, fake) == 0
    r = report_of(env)
    rows = rows_of(env / "out" / "notes.jsonl")
    assert_exact(spec, rows)
    notes = [row["note"] for row in rows]
    assert len(set(notes)) == len(notes) and notes.count("same old words") <= 1
    assert r["rejected"]["distinct_notes"]["count"] == 2  # spare rows of the same round took their places
    assert {c["name"]: c["passed"] for c in r["checks"]}["distinct_notes"]


def test_unique_over_categories_is_reported_not_repaired(env, fake):
    """A repeated category is a target problem, not a bad answer: no row is asked again for it."""
    spec = write_spec(env, SPEC + "constraint one_per_topic: unique(topic)\n")
    assert build(spec, fake) == 1
    r = report_of(env)
    assert "one_per_topic" not in r["rejected"] and r["rounds"] == 1


# ---- faults ---------------------------------------------------------------------------------------------------


def _faults(rng: random.Random, n: int, rate: float) -> list[Fault]:
    kinds = [lambda: rate_limit(retry_after=0.01), lambda: server_error(500), lambda: server_error(503),
             lambda: slow(1.0), lambda: truncated(0.6), lambda: bad_rows(1), lambda: wrong_count(-1),
             lambda: wrong_count(1), lambda: empty()]
    out = []
    for i in range(n):
        # every kind at least once, then at random
        if i < len(kinds) * 3 and i % 3 == 0:
            out.append(kinds[i // 3]())
        else:
            out.append(rng.choice(kinds)() if rng.random() < rate else Fault("none"))
    return out


def test_at_a_30_percent_fault_rate_the_quotas_are_exact(env, fake):
    spec = write_spec(env, SPEC.replace("rows = 24", "rows = 48"))
    fake.push(*_faults(random.Random(7), 400, 0.3))
    assert build(spec, fake) == 0
    r = report_of(env)
    rows = rows_of(env / "out" / "notes.jsonl")
    assert_exact(spec, rows)
    assert r["rounds"] >= 2  # truncated, broken, short and empty answers lost rows that were asked again
    assert r["rejected"]["schema"]["count"] > 0
    statuses = Counter(q.status for q in fake.chat_requests)
    assert statuses[429] and statuses[500] and statuses[503]
    # every answer the build paid for is in the cache, and a rebuild pays nothing and changes nothing
    data = (env / "out" / "notes.jsonl").read_bytes()
    calls = fake.calls
    assert build(spec, fake) == 0
    assert fake.calls == calls
    assert (env / "out" / "notes.jsonl").read_bytes() == data


# ---- budgets and stops ----------------------------------------------------------------------------------------


def test_max_calls_stops_with_exit_3_and_keeps_what_was_paid(env, fake, capsys):
    spec = write_spec(env)
    assert build(spec, fake, "--max-calls", "3") == 3
    assert "--max-calls 3" in capsys.readouterr().err
    assert fake.calls == 3
    assert AnswerCache(env / "cache").stats().entries == 3
    assert not (env / "out" / "notes.jsonl").exists() and not (env / "notes.sds.lock").exists()
    assert build(spec, fake) == 0  # the rest, and only the rest
    assert fake.calls == plan_of(spec).calls


def test_max_cost_stops_before_spending_more(env, fake, capsys):
    spec = write_spec(env)
    assert build(spec, fake, "--max-cost", "0.0000001") == 3
    assert "--max-cost" in capsys.readouterr().err
    assert fake.calls == 0


def test_max_rounds_stops_when_rows_are_still_short(env, fake, capsys):
    spec = write_spec(env, SPEC.replace("word_count(note) <= 6", "word_count(note) <= 2"))
    assert build(spec, fake, "--max-rounds", "1", "--min-yield", "0") == 3
    err = capsys.readouterr().err
    assert "--max-rounds" in err and "fits" in err
    assert AnswerCache(env / "cache").stats().entries == fake.calls == plan_of(spec).calls


def test_an_endpoint_failing_most_calls_stops_the_build_early(env, fake, capsys, monkeypatch):
    spec = write_spec(env, SPEC.replace("rows = 24", "rows = 60"))
    fake.push(*[Fault("none")] * 4, *[server_error(500)] * 400)
    assert build(spec, fake) == 3
    err = capsys.readouterr().err
    assert "failed" in err and "HTTP 500" in err
    assert AnswerCache(env / "cache").stats().entries == 4
    assert fake.calls < 400  # it stopped instead of burning through every call's retries


def test_offline_with_an_empty_cache_stops_with_exit_3(env, fake, capsys):
    spec = write_spec(env)
    assert build(spec, fake, "--offline") == 3
    assert "--offline" in capsys.readouterr().err
    assert fake.calls == 0


def test_offline_after_a_build_rebuilds_from_the_cache(env, fake):
    spec = write_spec(env)
    assert build(spec, fake) == 0
    data = (env / "out" / "notes.jsonl").read_bytes()
    calls = fake.calls
    assert main(["build", str(spec), "--offline", "--endpoint", fake.base_url, "--out", str(env / "out2")]) == 0
    assert fake.calls == calls
    assert (env / "out2" / "notes.jsonl").read_bytes() == data


# ---- the lock -------------------------------------------------------------------------------------------------


def test_frozen_after_a_spec_change_is_exit_2(env, fake, capsys):
    spec = write_spec(env)
    assert build(spec, fake, "--frozen") == 2  # no lock yet
    assert build(spec, fake) == 0
    assert build(spec, fake, "--frozen") == 0
    spec.write_text(SPEC.replace('"dry": 25%', '"dry": 30%').replace('"warm": 75%', '"warm": 70%'))
    capsys.readouterr()
    calls = fake.calls
    assert build(spec, fake, "--frozen") == 2
    assert "changed since notes.sds.lock" in capsys.readouterr().err
    assert fake.calls == calls


def test_a_changed_spec_plans_with_the_measured_acceptance(env, fake):
    spec = write_spec(env, SPEC.replace("word_count(note) <= 6", "word_count(note) <= 4"))  # 3 of the 5 lengths pass
    assert build(spec, fake) == 0
    lock = json.loads((env / "notes.sds.lock").read_text())
    assert 0 < lock["acceptance"]["rate"] < 1
    assert set(lock["acceptance"]["by_stratum"]) == {s.key for s in plan_of(spec).strata}
    spec.write_text(spec.read_text() + "constraint more: n >= 1\n")
    assert build(spec, fake) == 0
    lock2 = json.loads((env / "notes.sds.lock").read_text())
    assert lock2["planned_with"] == lock["acceptance"]
    # (spares only ride in the free room of the calls the quota needs, so a lower measured rate need not add a
    # request: what the rebuild is sized with is the figure that matters)


# ---- secrets --------------------------------------------------------------------------------------------------


def test_the_api_key_reaches_no_file_and_no_output(env, fake, capsys):
    spec = write_spec(env)
    fake.push(rate_limit(retry_after=0.01), server_error(500))
    assert build(spec, fake, "--csv", "--json") == 0
    assert all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in fake.chat_requests)  # it was used
    fake.push(echo_auth())  # a server that echoes the key back in its error
    spec2 = write_spec(env, SPEC.replace("seed = 3", "seed = 4"), "other.sds")
    assert build(spec2, fake, out="out2") == 3
    out = capsys.readouterr()
    assert "credentials" in out.err
    assert SECRET not in out.out + out.err
    files = [p for p in env.rglob("*") if p.is_file()]
    assert any(p.name == "notes.csv" for p in files) and any(p.suffix == ".lock" for p in files)
    for p in files:
        assert SECRET.encode() not in p.read_bytes(), p


# ---- validate, ingest, cache ----------------------------------------------------------------------------------


def test_validate_checks_a_built_jsonl_and_parquet(env, fake, capsys):
    spec = write_spec(env)
    assert build(spec, fake) == 0
    for name in ("notes.jsonl", "notes.parquet"):
        assert main(["validate", str(spec), str(env / "out" / name), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["passed"] and report["rows"] == 24
    rows = rows_of(env / "out" / "notes.jsonl")
    rows[0]["note"] = "one two three four five six seven"
    bad = env / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["validate", str(spec), str(bad)]) == 1
    assert "fits" in capsys.readouterr().out
    assert main(["validate", str(spec), str(env / "missing.jsonl")]) == 2


def test_ingest_fills_the_cache_from_batch_output_then_builds(env, fake, capsys):
    spec = write_spec(env)
    batch = env / "batch.jsonl"
    assert main(["plan", str(spec), "--emit-batch", str(batch)]) == 0
    lines = []
    for n, line in enumerate(batch.read_text().splitlines()):
        req = json.loads(line)
        if n == 0:  # one request failed in the batch: the build makes it
            lines.append({"custom_id": req["custom_id"], "response": None,
                          "error": {"code": "server_error", "message": "boom"}})
            continue
        status, _, body = fake.answer(req["body"])
        lines.append({"id": f"batch_req_{n}", "custom_id": req["custom_id"],
                      "response": {"status_code": status, "request_id": "r", "body": body}, "error": None})
    results = env / "results.jsonl"
    results.write_text("".join(json.dumps(x) + "\n" for x in lines))
    capsys.readouterr()
    assert main(["ingest", str(spec), str(results), "--endpoint", fake.base_url, "--out", str(env / "out"),
                 "--live"]) == 0
    err = capsys.readouterr().err
    assert f"{len(lines) - 1} answers stored" in err
    assert fake.calls == 1
    r = report_of(env)
    assert (r["calls"], r["cache_hits"]) == (1, len(lines) - 1)
    assert_exact(spec, rows_of(env / "out" / "notes.jsonl"))
    assert main(["ingest", str(spec), str(env / "nope.jsonl"), "--endpoint", fake.base_url]) == 2


def test_cache_stats_and_gc_keep_what_locks_list(env, fake, capsys, monkeypatch):
    a = write_spec(env)
    b = write_spec(env, SPEC.replace("seed = 3", "seed = 5"), "other.sds")
    assert build(a, fake) == 0 and build(b, fake, out="out2") == 0
    cache = AnswerCache(env / "cache")
    total = cache.stats().entries
    lock_a = json.loads((env / "notes.sds.lock").read_text())
    assert main(["cache", "stats", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["entries"] == total and listed["caches"][0]["stored_rows"] == len(RowStore(env / "cache")) > 0
    rows_before = len(RowStore(env / "cache"))
    assert main(["cache", "gc", "--keep-lock", str(env / "notes.sds.lock"), "--older-than", "0"]) == 0
    removed = total - len(lock_a["calls"])
    assert f"removed {removed:,} answers, kept {len(lock_a['calls']):,}" in capsys.readouterr().out
    assert set(cache.keys()) == set(lock_a["calls"])
    assert total > len(lock_a["calls"])
    # the row store keeps exactly the entries whose answer was kept: b's rows are gone, a's remain
    kept_rows = RowStore(env / "cache")
    assert 0 < len(kept_rows) < rows_before
    assert {e["call"] for e in kept_rows._load().values()} <= set(lock_a["calls"])
    calls = fake.calls
    assert build(a, fake) == 0 and fake.calls == calls  # what it kept still rebuilds a with no call
    monkeypatch.chdir(env)
    (env / "other.sds.lock").unlink()
    (env / "notes.sds.lock").unlink()
    assert main(["cache", "gc"]) == 2  # no lock found: nothing is removed
    assert set(cache.keys()) == set(lock_a["calls"])


def test_a_hosted_model_without_an_endpoint_is_exit_2(env, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    spec = write_spec(env)
    assert main(["build", str(spec), "--out", str(env / "out")]) == 2
    err = capsys.readouterr().err
    assert "--endpoint" in err and "OPENAI_BASE_URL" in err and "synthc.toml" in err


def test_a_synthc_toml_profile_names_the_endpoint_and_sizes_calls(env, fake):
    (env / "synthc.toml").write_text(f'[profiles.local]\nendpoint = "{fake.base_url}"\nmodel = "served-name"\n'
                                     "max_rows_per_call = 2\nconcurrency = 2\n")
    spec = write_spec(env, SPEC.replace('model = "gpt-4o-mini"', 'model = "local"').replace("rows_per_call = 3\n", ""))
    assert main(["build", str(spec), "--out", str(env / "out")]) == 0
    assert {r.body["model"] for r in fake.chat_requests} == {"served-name"}
    plan = build_plan(check_file(spec).spec, None, choose("local", spec).profile)
    assert plan.rows_per_call == 2 and fake.calls == plan.calls
    assert all(rows_in(q.body) <= 2 for q in fake.chat_requests)
    assert report_of(env)["cost_usd"] is None  # the profile sets no prices


def test_a_per_constraint_is_judged_per_group_in_the_build_report(env, fake):
    """LANGUAGE.md "Per stratum": the build's report judges `per` constraints group by group, and a failing group
    fails the build's checks (exit 1) while the overall form of the same figure passes."""
    spec = write_spec(env, SPEC + "constraint busy_each: share(mood == \"busy\") <= 90% per topic, tone\n"
                                  "constraint few_busy: share(mood == \"busy\") <= 0% per tone\n"
                                  "constraint any_busy_overall: share(mood == \"busy\") <= 100%\n")
    assert build(spec, fake) == 1
    report = json.loads((env / "out" / "report.json").read_text())
    checks = {c["name"]: c for c in report["checks"]}
    rows = rows_of(env / "out" / "notes.jsonl")
    busy = Counter(r["tone"] for r in rows if r["mood"] == "busy")
    assert checks["busy_each"]["groups"] == 4 and checks["few_busy"]["groups"] == 2
    assert checks["few_busy"]["violations"] == sum(1 for t in ("dry", "warm") if busy[t])
    for tone in ("dry", "warm"):
        n = sum(1 for r in rows if r["tone"] == tone)
        [got] = [v for k, v in checks["few_busy"]["values"].items() if k.endswith(f" [tone = {tone}]")]
        assert got == pytest.approx(busy[tone] / n)
    assert checks["any_busy_overall"]["passed"] and "groups" not in checks["any_busy_overall"]
    assert "group" in (env / "out" / "report.md").read_text()
