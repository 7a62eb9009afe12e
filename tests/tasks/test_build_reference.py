"""Complete mode and few-shot from real rows, end to end: `examples/package_descriptions/packages.sds` built
against the loopback fake over real HTTP (and once, small, on the embedded model). Every expectation is
computed here from the data file and LANGUAGE.md's formulas, not read back from synthc."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fake_openai import FakeOpenAI, Misbehaviour, requests_of
from project_env import embedded_env, project_env
from synthc.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "package_descriptions"
SECTIONS = ["admin", "games", "graphics", "net", "science", "sound", "text"]
SEED, HOLDOUT, ROWS, K = 13, 0.2, 1400, 3
SECTION_RE = re.compile(r"for the (\w+) section")


def held(seed: int, share: float, row: dict) -> bool:
    """LANGUAGE.md "Holdout": int(sha256("SEED:" + the mapped values as BYTES:TEXT, joined by ",")[:8], 16) < share *
    2^32, the values those of the fields the reference maps in field order (section, package, synopsis)."""
    values = ",".join(f"{len(v.encode())}:{v}" for v in (row["section"], row["package"], row["description"]))
    return int(hashlib.sha256(f"{seed}:{values}".encode()).hexdigest()[:8], 16) < int(share * 2 ** 32)


def file_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def usable(rows: list[dict], seed: int = SEED, share: float = HOLDOUT) -> dict[int, dict]:
    return {n: r for n, r in enumerate(rows, 1) if not held(seed, share, r)}


@pytest.fixture
def project(tmp_path, monkeypatch):
    project_env(tmp_path, monkeypatch)
    shutil.copytree(EXAMPLE / "data", tmp_path / "data", ignore=shutil.ignore_patterns("README.md"))
    spec = tmp_path / "packages.sds"
    spec.write_text((EXAMPLE / "packages.sds").read_text(encoding="utf-8"), encoding="utf-8")
    return spec


@pytest.fixture
def fake():
    with FakeOpenAI(misbehave=Misbehaviour(slug=("package",))) as f:  # names that Debian policy allows
        yield f


def build(spec: Path, fake: FakeOpenAI, *flags: str) -> int:
    return main(["build", str(spec), "--endpoint", fake.base_url, "--model", "gpt-4o-mini", "--out",
                 str(spec.parent / "out"), *flags])


def plan_json(spec: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["plan", str(spec), "--model", "gpt-4o-mini", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def shown_examples(body: dict) -> tuple[str, list[dict]]:
    """The section a request asks for (its first row's) and the real rows it shows: LANGUAGE.md sends each as
    an earlier user turn (its one-row request) answered by an assistant turn (its outputs)."""
    msgs = body["messages"]
    assert msgs[0]["role"] == "system" and msgs[-1]["role"] == "user"
    turns = msgs[1:-1]
    assert [m["role"] for m in turns] == ["user", "assistant"] * (len(turns) // 2)
    assert "Examples of finished rows" not in msgs[-1]["content"]  # the packages prompt writes no `example`
    examples = []
    for ask, answer in zip(turns[::2], turns[1::2]):
        fields = msgs[-1]["content"].split("\n\nAnswer ", 1)[1].split(":\n", 1)[1]  # the outputs' lines
        assert ask["content"].endswith("Answer with one JSON object with these fields:\n" + fields)
        examples.append({"section": SECTION_RE.search(ask["content"]).group(1), **json.loads(answer["content"])})
    return SECTION_RE.search(requests_of(msgs[-1]["content"])[0]).group(1), examples  # the call's first row


def test_the_example_completes_the_real_rows_to_balanced_sections(project, fake, capsys):
    real_file = file_rows(project.parent / "data" / "packages.jsonl")
    ok = usable(real_file)
    real_per = Counter(r["section"] for r in ok.values())
    target = ROWS // len(SECTIONS)
    plan = plan_json(project, capsys)
    by_section = {s["values"]["section"]: s for s in plan["real"]["strata"]}
    for sec in SECTIONS:  # the planner counts the real rows as LANGUAGE.md says
        assert (by_section[sec]["real"], by_section[sec]["target"]) == (real_per[sec], target)
        assert by_section[sec]["synthetic"] == max(0, target - real_per[sec])
    assert any(real_per[s] < target for s in SECTIONS) and any(real_per[s] > target for s in SECTIONS)

    code = build(project, fake)
    err = capsys.readouterr().err
    assert code == 0, err
    assert fake.calls == plan["calls"]  # no top-up: the fake's rows all pass
    out = file_rows(project.parent / "out" / "packages.jsonl")
    real = [r for r in out if r["_origin"] == "real"]
    synthetic = [r for r in out if r["_origin"] == "synthetic"]
    assert len(real) + len(synthetic) == len(out) == ROWS  # downsample: exactly `rows`
    assert out[: len(real)] == real  # real rows first ...
    numbers = [int(r["_id"].removeprefix("real-")) for r in real]
    assert numbers == sorted(numbers)  # ... in file order
    for n, r in zip(numbers, real):  # every value exactly as the file has it, under its field's name
        src = real_file[n - 1]
        assert (r["section"], r["package"], r["synopsis"]) == (src["section"], src["package"], src["description"])
        assert n in ok  # never a held-out row
    for sec in SECTIONS:
        have = [n for n in ok if ok[n]["section"] == sec]
        keep = sorted(have, key=lambda n: hashlib.md5(f"{SEED}:keep:{n}".encode()).hexdigest())[:target]
        assert sorted(n for n, r in zip(numbers, real) if r["section"] == sec) == sorted(keep)
    assert Counter(r["section"] for r in synthetic) == {s: target - real_per[s] for s in SECTIONS
                                                       if real_per[s] < target}
    assert Counter(r["section"] for r in out) == {s: target for s in SECTIONS}
    assert all(not r["_id"].startswith("real-") for r in synthetic)

    report = json.loads((project.parent / "out" / "report.json").read_text())
    assert report["passed"] and report["rows"] == ROWS
    assert report["real"]["rows_real"] == len(real) and report["real"]["rows_synthetic"] == len(synthetic)
    for s in report["real"]["strata"]:
        sec = s["values"]["section"]
        assert s["rows_real"] + s["rows_synthetic"] == target
        assert s["rows_synthetic"] == s["synthetic_planned"] == max(0, target - real_per[sec])
    # real rows that break a rule are findings, never rejections (the build passed with them in the dataset)
    long = [r["_id"] for r in real if not 2 <= len(r["synopsis"].split()) <= 12 or "\n" in r["synopsis"]]
    assert long and report["findings"]["one_line"]["count"] == len(long)
    assert [e["_id"] for e in report["findings"]["one_line"]["examples"]] == long[:3]
    bad_names = [r for r in real if not re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", r["package"])]
    assert report["findings"].get("debian_name", {"count": 0})["count"] == len(bad_names)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["one_line"]["passed"] and checks["one_line"]["violations"] == 0
    assert report["examples_nearest"] == []  # every section has real rows to show
    assert "## Real and synthetic rows" in (project.parent / "out" / "report.md").read_text()
    # synthc validate judges the completed file as the build did: real rows that break a rule are findings
    for fmt in ("jsonl", "parquet"):
        capsys.readouterr()
        data_file = project.parent / "out" / f"packages.{fmt}"
        if not data_file.exists():
            continue
        assert main(["validate", str(project), str(data_file), "--json"]) == 0, capsys.readouterr().err
        v = json.loads(capsys.readouterr().out)
        assert v["passed"] and v["rows"] == ROWS
        assert v["findings"]["one_line"]["count"] == len(long)
        assert [e["_id"] for e in v["findings"]["one_line"]["examples"]] == long[:3]

    # few-shot: K rows of the call's own section, from the file, never held out, no repeats within a call
    by_name = {}
    for n, r in enumerate(real_file, 1):
        by_name.setdefault(r["package"], []).append(n)
    seen_sets = set()
    for req in fake.chat_requests:
        section, examples = shown_examples(req.body)
        assert len(examples) == K
        assert len({e["package"] for e in examples}) == K
        for e in examples:
            assert e["section"] == section
            rows = [n for n in by_name[e["package"]] if real_file[n - 1]["description"] == e["synopsis"]]
            assert rows and all(n in ok for n in rows)
        seen_sets.add(frozenset(e["package"] for e in examples))
    assert len(seen_sets) > 1  # the examples change from call to call

    lock = json.loads((project.parent / "packages.sds.lock").read_text())
    data = (project.parent / "data" / "packages.jsonl").read_bytes()
    assert lock["reference"] == {"name": "real", "path": "data/packages.jsonl", "rows": len(real_file),
                                 "sha256": hashlib.sha256(data).hexdigest()}
    before = (project.parent / "out" / "packages.jsonl").read_bytes()
    assert build(project, fake, "--frozen") == 0  # unchanged: frozen passes and writes the same bytes
    assert (project.parent / "out" / "packages.jsonl").read_bytes() == before


def test_a_changed_data_file_shows_in_plan_diff_and_frozen(project, fake, capsys):
    assert build(project, fake) == 0
    data = project.parent / "data" / "packages.jsonl"
    old_plan = plan_json(project, capsys)
    (project.parent / "old").mkdir()
    old_spec = project.parent / "old" / "packages.sds"
    shutil.copytree(project.parent / "data", project.parent / "old" / "data")
    old_spec.write_text(project.read_text())
    lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = file_rows(data)
    ok = usable(rows)
    graphics = [n for n in ok if rows[n - 1]["section"] == "graphics"][:10]
    data.write_text("".join(x for n, x in enumerate(lines, 1) if n not in graphics[5:]), encoding="utf-8")
    # rows after the deleted ones move up a line: their holdout draw changes, so count again from the new file
    new_per = Counter(r["section"] for r in usable(file_rows(data)).values())

    new_plan = plan_json(project, capsys)
    new_by = {s["values"]["section"]: s for s in new_plan["real"]["strata"]}
    old_by = {s["values"]["section"]: s for s in old_plan["real"]["strata"]}
    assert new_plan["real"]["sha256"] != old_plan["real"]["sha256"]
    for sec in SECTIONS:
        assert new_by[sec]["real"] == new_per[sec]
        assert new_by[sec]["synthetic"] == max(0, 200 - new_per[sec])
    assert new_by["graphics"]["synthetic"] != old_by["graphics"]["synthetic"]

    capsys.readouterr()
    assert build(project, fake, "--frozen") == 2
    err = capsys.readouterr().err
    assert "data/packages.jsonl" in err and "changed" in err

    assert main(["diff", str(old_spec), str(project), "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    whats = {c["what"]: c for c in diff["spec"]["reference"]}
    assert "file" in whats and "reference file changed" in diff["summary"]
    moved = {s["values"]["section"]: (s["old_rows"], s["new_rows"]) for s in diff["plan"]["strata"]}
    for sec in SECTIONS:
        o, n = old_by[sec]["synthetic"], new_by[sec]["synthetic"]
        if o != n:  # the synthetic rows each changed stratum asks for
            assert moved[sec] == (o, n)
    assert main(["diff", str(old_spec), str(project), "--markdown"]) == 0
    assert "**Reference**" in capsys.readouterr().out


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(rows=st.integers(7, 3000), seed=st.integers(0, 10 ** 6), holdout=st.sampled_from([0, 10, 20, 45]),
       downsample=st.booleans())
def test_the_example_plans_exactly_target_minus_real_rows_per_section(project, capsys, rows, seed, holdout,
                                                                     downsample):
    text = (EXAMPLE / "packages.sds").read_text(encoding="utf-8")
    text = text.replace("rows = 1400", f"rows = {rows}").replace("seed = 13", f"seed = {seed}")
    text = text.replace("holdout = 20%", f"holdout = {holdout}%")
    text = text.replace("downsample = true", f"downsample = {str(downsample).lower()}")
    project.write_text(text, encoding="utf-8")
    per = Counter(r["section"] for r in usable(file_rows(project.parent / "data" / "packages.jsonl"), seed,
                                               holdout / 100).values())
    plan = plan_json(project, capsys)
    strata = {s["values"]["section"]: s for s in plan["real"]["strata"]}
    targets = [s["target"] for s in strata.values()]
    assert sum(targets) == rows and max(targets) - min(targets) <= 1  # seven equal shares, to within a row
    for sec in SECTIONS:
        s = strata[sec]
        assert s["real"] == per[sec]
        assert s["synthetic"] == max(0, s["target"] - per[sec])
        assert s["kept"] == (min(per[sec], s["target"]) if downsample else per[sec])
    assert plan["rows"] == sum(s["synthetic"] for s in strata.values())
    assert plan["rows_requested"] == plan["rows"] + plan["spare_rows"]


SMALL = """dataset small_packages {
  rows = 12
  seed = 13
}

field section: category ["graphics", "sound"]
field package: text from describe { words = 1..1 }
field synopsis: text from describe { words = 2..12 }

prompt describe {
  user = "Write the name and the one-line synopsis of a Debian package in the {section} section."
  examples = real(2)
}

reference real from "data/small.jsonl" {
  section -> section
  package -> package
  description -> synopsis
  complete = true
}
"""


@pytest.mark.embedded
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_complete_mode_builds_on_the_embedded_model(tmp_path, monkeypatch, capsys):
    embedded_env(tmp_path, monkeypatch)
    src = file_rows(EXAMPLE / "data" / "packages.jsonl")
    small = [r for r in src if r["section"] == "graphics"][:5] + [r for r in src if r["section"] == "sound"][:4]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "small.jsonl").write_text("".join(json.dumps(r) + "\n" for r in small))
    spec = tmp_path / "small.sds"
    spec.write_text(SMALL)
    code = main(["build", str(spec), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code in (0, 1), err  # the 135M model may write a poor synopsis, but the build finishes
    out = file_rows(tmp_path / "out" / "small_packages.jsonl")
    assert Counter((r["section"], r["_origin"]) for r in out) == {
        ("graphics", "real"): 5, ("sound", "real"): 4, ("graphics", "synthetic"): 1, ("sound", "synthetic"): 2}
    assert [(r["package"], r["synopsis"]) for r in out[:9]] == [(r["package"], r["description"]) for r in small]


def test_a_synthetic_row_repeating_a_real_one_breaks_unique_and_is_asked_again(project, capsys):
    """unique(package) holds over the whole output: the build's repair sees the real rows it keeps."""
    with FakeOpenAI(misbehave=Misbehaviour(constant=(("package", "2048"),))) as fake:  # line 2: a real, kept row
        code = build(project, fake, "--json", "--max-rounds", "2")
    out = json.loads(capsys.readouterr().out)
    assert code == 3 and out["stopped"]["rows_accepted"] == 0
    assert out["stopped"]["rejected"]["new_names"]["count"] == out["stopped"]["rows_asked"] > 0


def test_a_completed_dataset_above_the_rows_limit_is_an_error_before_any_call(project, fake, capsys, monkeypatch):
    """LANGUAGE.md "Limits": the completed dataset (real rows kept + synthetic rows) is bounded like `rows`. The
    limit is lowered here (the real file has about 2,000 rows) so that keeping every real row passes it."""
    from synthc.plan import complete

    text = project.read_text(encoding="utf-8").replace("downsample = true", "downsample = false")
    project.write_text(text.replace("rows = 1400", "rows = 70"), encoding="utf-8")
    kept = len(usable(file_rows(project.parent / "data" / "packages.jsonl")))
    monkeypatch.setattr(complete, "MAX_ROWS", kept - 1)
    capsys.readouterr()
    assert build(project, fake) == 2
    err = capsys.readouterr().err
    assert "SDS090" in err and f"{kept:,} real" in err and "downsample = true" in err
    assert fake.calls == 0 and not (project.parent / "out").exists()
    monkeypatch.setattr(complete, "MAX_ROWS", kept)  # every real row and no synthetic one: within the limit
    assert main(["plan", str(project), "--model", "gpt-4o-mini"]) == 0
