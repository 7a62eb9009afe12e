"""`synthc eval` (docs/EVAL.md) on the shipped Debian synopses as real data: planted copies are caught (eval,
validate, and a build against the loopback fake rejects and tops them up), random labels give a negative lift,
identical distributions an AUC near 0.5 and TVD 0, two evals are byte-identical, bad input exits 2."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, given_text
from project_env import project_env
from synthc.check.reference import content_key, held_limit
from synthc.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "package_descriptions" / "data" / "packages.jsonl"
SEED = 13
SECTIONS = '["admin", "games", "graphics", "net", "science", "sound", "text"]'

SPEC = f"""dataset pk {{
  rows = 28
  seed = {SEED}
  model = "gpt-4o-mini"
}}

field section: category {SECTIONS}
field synopsis: text from describe {{ words = 2..12 }}

prompt describe {{
  user = "Write the one-line synopsis of a Debian package in the {{section}} section."
  rows_per_call = 4
}}

reference real from "data/packages.jsonl" {{
  section -> section
  description -> synopsis
  holdout = 20%
}}
"""
NO_COPIES = "constraint no_copies: max_similarity_to_real(synopsis) <= 0.8\n"
HELPS = "constraint helps: tstr_lift(section, synopsis) >= 0\n"


def is_held(r: dict, share: float = 0.2) -> bool:
    """The holdout of LANGUAGE.md on a real row (its mapped values, in field order: section, synopsis)."""
    return content_key(SEED, [r["section"], r["description"]]) < held_limit(share)


def real_rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def env(tmp_path, monkeypatch):
    project_env(tmp_path, monkeypatch, key="sk-test-eval")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    shutil.copy(DATA, tmp_path / "data" / "packages.jsonl")
    return tmp_path


def write(root: Path, name: str, rows: list[dict]) -> Path:
    p = root / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return p


def spec(root: Path, extra: str = "") -> Path:
    p = root / "pk.sds"
    p.write_text(SPEC + extra, encoding="utf-8")
    return p


def perturbed(rows: list[dict], rng: random.Random) -> list[dict]:
    """Real texts made new: every other word dropped, the rest reversed, two of a few words added at the end, so
    that a text shares at most about half its words with its real one (word overlap well under 0.8)."""
    tails = ["tool", "utility", "program", "suite", "kit", "helper"]
    return [{"section": r["section"], "synopsis": " ".join(reversed(r["description"].split()[::2])) + " " +
             " ".join(rng.sample(tails, 2))} for r in rows]


def evaluated(capsys, *args) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["eval", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_planted_copies_of_real_rows_are_caught(env, capsys):
    real = real_rows()
    rng = random.Random(1)
    syn = perturbed(real[:600], rng)
    planted = [5, 77, 301, 444]  # 0-based positions in the synthetic file: copies of real rows 1000+k
    for k, pos in enumerate(planted):
        syn[pos] = {"section": real[1000 + k]["section"], "synopsis": real[1000 + k]["description"]}
    data = write(env, "syn.jsonl", syn)
    code, ev = evaluated(capsys, str(spec(env, NO_COPIES)), str(data))
    assert code == 1  # the constraint fails
    p = ev["private"]["texts"]["synopsis"]
    above = [c for c in p["closest"] if c["similarity"] > 0.8]
    assert p["above"] == len(planted) and p["max"] == 1.0
    assert sorted((c["row"], c["real_row"]) for c in above) == [(pos + 1, 1001 + k) for k, pos in enumerate(planted)]
    assert ev["constraints"] == [{"name": "no_copies", "expr": "(max_similarity_to_real(synopsis) <= 0.8)",
                                  "value": 1.0, "passed": False}]
    capsys.readouterr()
    assert main(["validate", str(env / "pk.sds"), str(data), "--json"]) == 1
    check = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}["no_copies"]
    assert check["violations"] == len(planted)
    assert [(e["row"], e["real_row"]) for e in check["examples"]] == [(pos + 1, 1001 + k) for k, pos in enumerate(planted)][:3]
    # without the copies the same data passes
    clean = write(env, "clean.jsonl", [r for i, r in enumerate(syn) if i not in planted])
    code, ev = evaluated(capsys, str(env / "pk.sds"), str(clean))
    assert code == 0 and ev["private"]["texts"]["synopsis"]["above"] == 0
    assert main(["validate", str(env / "pk.sds"), str(clean)]) == 0


def test_real_rows_in_the_data_are_not_synthetic(env, capsys):
    real = real_rows()
    syn = perturbed(real[:300], random.Random(2))
    rows = [{**{"section": r["section"], "synopsis": r["description"]}, "_origin": "real"} for r in real[:50]]
    rows += [{**r, "_origin": "synthetic"} for r in syn]
    code, ev = evaluated(capsys, str(spec(env, NO_COPIES)), str(write(env, "mixed.jsonl", rows)))
    assert ev["data"] == {"path": str(env / "mixed.jsonl"), "rows": 300, "real_rows_skipped": 50}
    assert ev["private"]["texts"]["synopsis"]["max"] <= 0.8 and code == 0  # the bound holds


def test_random_labels_give_a_negative_lift(env, capsys):
    real = real_rows()
    rng = random.Random(3)
    train = [r for r in real if not is_held(r)]
    sections = sorted({r["section"] for r in real})
    # the real training texts again, six times over, each with a random label: noise that drowns the signal (with
    # fewer copies a text's true label, which it also has in the real rows, stays its most frequent one)
    syn = [{"section": rng.choice(sections), "synopsis": r["description"]} for r in train * 6]
    code, ev = evaluated(capsys, str(spec(env, HELPS)), str(write(env, "noise.jsonl", syn)))
    u = ev["useful"]
    assert u["lift"]["max"] < 0 and u["lift"]["mean"] < 0
    assert u["models"]["synthetic"]["macro_f1"]["mean"] < u["models"]["real"]["macro_f1"]["mean"]
    assert len(u["lift"]["runs"]) == 3 and u["test_rows"] == sum(map(is_held, real))
    assert code == 1 and ev["constraints"][0]["passed"] is False


def test_real_labels_help(env, capsys):
    """The same texts with their own labels: the synthetic-only model learns, and adding them does not hurt."""
    real = real_rows()
    train = [r for r in real if not is_held(r)]
    syn = perturbed(train, random.Random(4))
    code, ev = evaluated(capsys, str(spec(env, HELPS)), str(write(env, "good.jsonl", syn)))
    u = ev["useful"]
    assert u["models"]["synthetic"]["macro_f1"]["mean"] > 0.4
    assert code == (0 if u["lift"]["mean"] >= 0 else 1)


def test_identical_distributions(env, capsys):
    real = real_rows()
    same = write(env, "same.jsonl", [{"section": r["section"], "synopsis": r["description"]} for r in real])
    _, ev = evaluated(capsys, str(spec(env)), str(same))
    f = ev["faithful"]["fields"]
    assert f["section"]["tvd"] == 0 and f["synopsis"]["length_ks"] == 0
    assert abs(f["synopsis"]["auc"] - 0.5) < 0.05
    assert f["synopsis"]["vocab"]["vocab_jaccard"] == 1.0
    # two halves of the real data: the same distribution, different texts
    half = [{"section": r["section"], "synopsis": r["description"]} for r in real[::2]]
    other = write(env, "other.jsonl", [{"section": r["section"], "description": r["description"]} for r in real[1::2]])
    _, ev = evaluated(capsys, str(env / "pk.sds"), str(write(env, "half.jsonl", half)), "--real", str(other))
    f = ev["faithful"]["fields"]
    assert abs(f["synopsis"]["auc"] - 0.5) < 0.1 and f["section"]["tvd"] < 0.05
    assert ev["real"]["rows"] == 1000


def test_two_evals_are_byte_identical(env, capsys):
    syn = perturbed(real_rows()[:400], random.Random(5))
    data = write(env, "syn.jsonl", syn)
    s = spec(env, NO_COPIES + HELPS)
    outs = []
    for d in ("a", "b"):
        assert main(["eval", str(s), str(data), "--out", str(env / d), "--seeds", "2"]) in (0, 1)
        outs.append(((env / d / "eval.json").read_bytes(), (env / d / "eval.md").read_bytes()))
    assert outs[0] == outs[1]
    ev = json.loads(outs[0][0])
    assert ev["eval_version"] == 2 and ev["useful"]["seeds"] == 2 and "## Against real data" in outs[0][1].decode()


def test_bad_input_exits_2(env, capsys):
    s = spec(env)
    data = write(env, "syn.jsonl", perturbed(real_rows()[:100], random.Random(6)))
    assert main(["eval", str(s), str(env / "missing.jsonl")]) == 2
    assert main(["eval", str(s), str(data), "--real", str(env / "nope.jsonl")]) == 2
    assert main(["eval", str(s), str(data), "--label", "synopsis"]) == 2
    assert main(["eval", str(s), str(data), "--seeds", "21"]) == 2
    bare = env / "bare.sds"
    bare.write_text(SPEC.split("reference")[0], encoding="utf-8")
    assert main(["eval", str(bare), str(data)]) == 2  # no reference and no --real
    assert "no reference" in capsys.readouterr().err


def test_build_rejects_copies_of_real_rows_and_tops_up(env):
    held = next(r for r in real_rows() if is_held(r))  # a held-out row: no leak either
    s = spec(env, NO_COPIES)
    with FakeOpenAI() as fake:
        fake.push(given_text("synopsis", held["description"]), given_text("synopsis", held["description"] + "!"))
        assert main(["build", str(s), "--endpoint", fake.base_url, "--model", "gpt-4o-mini", "--out", "out",
                     "--concurrency", "1"]) == 0  # the two faulted answers are the first two calls, in plan order
    rows = [json.loads(x) for x in (env / "out" / "pk.jsonl").read_text().splitlines()]
    assert len(rows) == 28 and all(r["synopsis"].rstrip("!") != held["description"] for r in rows)
    report = json.loads((env / "out" / "report.json").read_text())
    assert report["rejected"]["no_copies"]["count"] == 8 and report["rounds"] == 2
    assert {c["name"]: c["passed"] for c in report["checks"]}["no_copies"]
    assert report["eval"]["private"]["texts"]["synopsis"]["max"] <= 0.8
    assert "## Against real data" in (env / "out" / "report.md").read_text()


def test_diff_shows_how_the_answers_moved(env, capsys):
    real = real_rows()
    s = spec(env, NO_COPIES)
    for d, rows in (("old", real[:300]), ("new", real[300:600])):
        (env / d).mkdir()
        syn = perturbed(rows, random.Random(7))
        if d == "new":
            syn[0] = {"section": real[0]["section"], "synopsis": real[0]["description"]}
        data = write(env / d, "pk.jsonl", [{"_id": f"r-{i}", **r} for i, r in enumerate(syn)])
        main(["eval", str(s), str(data)])
    capsys.readouterr()
    assert main(["diff", str(s), str(s), "--old-build", str(env / "old"), "--new-build", str(env / "new"),
                 "--json"]) == 0
    moved = {(e["answer"], e["figure"]): (e["old"], e["new"]) for e in json.loads(capsys.readouterr().out)["data"]["evaluation"]}
    assert moved[("private", "max(synopsis)")][1] == 1.0 > moved[("private", "max(synopsis)")][0]
    assert ("useful", "lift(section from synopsis)") in moved and ("faithful", "auc(synopsis)") in moved
    main(["diff", str(s), str(s), "--old-build", str(env / "old"), "--new-build", str(env / "new"), "--markdown"])
    assert "| private | `max(synopsis)` |" in capsys.readouterr().out


def test_package_descriptions_demo_against_the_fake(env, capsys):
    """The example's eval demo (examples/package_descriptions/eval_demo.sds) built against the fake reports all
    three answers on the real sample; the fake writes random words, so its data is easy to tell from real."""
    demo = env / "eval_demo.sds"
    shutil.copy(ROOT / "examples" / "package_descriptions" / "eval_demo.sds", demo)
    with FakeOpenAI() as fake:
        code = main(["build", str(demo), "--endpoint", fake.base_url, "--model", "gpt-4o-mini", "--out", "out"])
    assert code in (0, 1)
    report = json.loads((env / "out" / "report.json").read_text())
    capsys.readouterr()
    code = main(["eval", str(demo), str(env / "out" / "package_synopses.jsonl"), "--json"])
    ev = json.loads(capsys.readouterr().out)
    assert code == (0 if all(c["passed"] for c in ev["constraints"]) else 1)
    assert ev["faithful"]["fields"]["synopsis"]["auc"] > 0.9  # random words are not Debian synopses
    assert ev["private"]["texts"]["synopsis"]["above"] == 0
    assert ev["useful"]["test_rows"] > 0 and set(ev["useful"]["models"]) == {"synthetic", "real", "real+synthetic"}
    # the build's report carries the same figures
    assert report["eval"]["faithful"] == ev["faithful"] and report["eval"]["useful"] == ev["useful"]
