"""Known answers of `synthc eval` (issue 19), on the project's own real data: the 2,000 Debian synopses of
examples/package_descriptions, split at random into a reference (1,000 rows, 20% held out) and "synthetic" files
made from the other real rows, whose right answers are known. Each test asserts the figure."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from project_env import project_env
from synthc.check.reference import content_key, held_limit
from synthc.cli import main
from synthc.evaluation.faithful import discriminator
from synthc.evaluation.useful import useful
from test_eval import HELPS, SEED, SPEC as BASE_SPEC

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "package_descriptions" / "data" / "packages.jsonl"
SPEC = BASE_SPEC + HELPS


def halves() -> tuple[list[dict], list[dict]]:
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines()]
    order = list(range(len(rows)))
    random.Random(19).shuffle(order)
    return [rows[i] for i in order[:1000]], [rows[i] for i in order[1000:]]


def held(r: dict) -> bool:
    return content_key(SEED, [r["section"], r["description"]]) < held_limit(0.2)


def as_synthetic(rows: list[dict]) -> list[dict]:
    return [{"section": r["section"], "synopsis": r["description"]} for r in rows]


def jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path, monkeypatch):
    project_env(tmp_path, monkeypatch, key="sk-test-eval")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    reference, _ = halves()
    jsonl(tmp_path / "data" / "packages.jsonl", reference)
    (tmp_path / "pk.sds").write_text(SPEC, encoding="utf-8")
    return tmp_path


def evaluate(capsys, env: Path, rows: list[dict], *flags: str) -> tuple[int, dict, str]:
    data = jsonl(env / "syn.jsonl", rows)
    capsys.readouterr()
    code = main(["eval", str(env / "pk.sds"), str(data), "--json", *flags])
    got = capsys.readouterr()
    return code, json.loads(got.out), got.err


def test_other_real_rows_read_as_real_and_help(env, capsys):
    _, other = halves()
    code, ev, _ = evaluate(capsys, env, as_synthetic(other))
    text = ev["faithful"]["fields"]["synopsis"]
    lo, hi = text["auc_interval"]
    assert lo <= 0.5 <= hi and hi - lo < 0.15  # indistinguishable, and the interval says how sure
    lift = ev["useful"]["lift"]
    assert lift["low"] > 0 and ev["useful"]["gate"] == lift["low"]  # twice the real training rows help
    # per stratum the same rule: each AUC with its interval, and real against real reads 0.5 within it
    measured = [s["texts"]["synopsis"] for s in ev["faithful"]["strata"] if s["texts"]["synopsis"]["auc"] is not None]
    assert len(measured) >= 5
    assert all(m["auc_interval"][0] <= m["auc"] <= m["auc_interval"][1] for m in measured)
    assert sum(m["auc_interval"][0] <= 0.5 <= m["auc_interval"][1] for m in measured) >= len(measured) - 1
    assert code == 0 and ev["constraints"][0]["passed"]


def test_shuffled_labels_fail_the_gate(env, capsys):
    _, other = halves()
    rows = as_synthetic(other)
    labels = [r["section"] for r in rows]
    random.Random(3).shuffle(labels)
    code, ev, _ = evaluate(capsys, env, [{**r, "section": y} for r, y in zip(rows, labels)])
    u = ev["useful"]
    assert u["lift"]["low"] < 0 and u["lift"]["mean"] < 0
    assert u["models"]["synthetic"]["macro_f1"]["high"] < u["models"]["real"]["macro_f1"]["low"]
    assert code == 1 and not ev["constraints"][0]["passed"]


def test_templated_texts_are_told_apart(env, capsys):
    _, other = halves()
    rows = [{"section": r["section"], "synopsis": f"A {r['section']} package, number {i}"} for i, r in enumerate(other)]
    _, ev, _ = evaluate(capsys, env, rows)
    assert ev["faithful"]["fields"]["synopsis"]["auc"] > 0.97


@pytest.mark.parametrize("text, why", [("", "have no word"), ("!!! ???", "have no word"),
                                       ("a package", "near-constant")])
def test_degenerate_texts_never_pass(env, capsys, text, why):
    _, other = halves()
    code, ev, err = evaluate(capsys, env, [{"section": r["section"], "synopsis": text} for r in other])
    assert ev["useful"]["gate"] is None and why in ev["useful"]["undecided"]
    assert code == 1 and ev["constraints"][0]["value"] is None and why in err


def test_a_single_label_never_passes(env, capsys):
    _, other = halves()
    code, ev, _ = evaluate(capsys, env, [{**r, "section": "games"} for r in as_synthetic(other)])
    assert ev["useful"]["gate"] is None and "single label" in ev["useful"]["undecided"] and code == 1


def test_copies_of_test_rows_are_contamination(env, capsys):
    reference, other = halves()
    clean = as_synthetic(other)
    _, base, _ = evaluate(capsys, env, clean)
    test_rows = [r for r in reference if held(r)]
    copies = as_synthetic(test_rows)
    code, ev, err = evaluate(capsys, env, clean + copies)
    c = ev["useful"]["contamination"]
    assert c["rows"] == base["useful"]["contamination"]["rows"] + len(copies) and len(copies) > 150
    assert c["examples"] and all(e["similarity"] == 1.0 for e in c["examples"])
    assert ev["useful"]["lift"] == base["useful"]["lift"]  # left out of training: the lift does not move
    assert ev["useful"]["train_rows"]["synthetic"] == base["useful"]["train_rows"]["synthetic"]
    assert "contamination" in err


def test_a_reordered_reference_holds_out_the_same_rows(env, capsys):
    reference, other = halves()
    moved = reference[:]
    random.Random(5).shuffle(moved)
    jsonl(env / "moved.jsonl", moved)
    _, a, _ = evaluate(capsys, env, as_synthetic(other))
    _, b, err = evaluate(capsys, env, as_synthetic(other), "--real", str(env / "moved.jsonl"))
    assert b["real"]["held_out"] == a["real"]["held_out"] == sum(map(held, reference))
    assert b["useful"]["models"] == a["useful"]["models"] and b["useful"]["lift"] == a["useful"]["lift"]
    assert a["real"]["is_reference"] and not b["real"]["is_reference"]
    assert "is not the spec's reference" in b["real"]["note"] and "is not the spec's reference" in err


def test_a_tiny_test_set_cannot_decide(env, capsys):
    reference, other = halves()
    jsonl(env / "data" / "packages.jsonl", reference[:60])  # about 12 held-out rows
    shutil.rmtree(env / ".synthc", ignore_errors=True)
    code, ev, err = evaluate(capsys, env, as_synthetic(other))
    assert ev["useful"]["gate"] is None and "fewer than 30" in ev["useful"]["undecided"]
    assert code == 1 and "too few to decide" in err


def test_real_against_real_reads_one_half_at_50_rows_a_side():
    rows = [json.loads(x)["description"] for x in DATA.read_text(encoding="utf-8").splitlines()]
    got = []
    for trial in range(12):
        pick = random.Random(trial).sample(range(len(rows)), 100)
        got.append(discriminator([rows[i] for i in pick[:50]], [rows[i] for i in pick[50:]], SEED, 2000))
    assert abs(np.mean([d["auc"] for d in got]) - 0.5) < 0.04
    assert sum(d["auc_interval"][0] <= 0.5 <= d["auc_interval"][1] for d in got) >= 10


def test_usefulness_equals_a_tfidf_pipeline_fitted_per_model():
    """The figures equal scikit-learn's TfidfVectorizer + LogisticRegression fitted on each model's own rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline

    reference, other = halves()
    syn = as_synthetic(other[:600])
    is_test = [held(r) for r in reference]
    # content keys in file order, so the real rows keep their file order
    u = useful([r["section"] for r in syn], [r["synopsis"] for r in syn], list(range(1, len(syn) + 1)),
               [r["section"] for r in reference], [r["description"] for r in reference], list(range(len(reference))),
               is_test, SEED, seeds=2)
    test = [r for r, h in zip(reference, is_test) if h]
    train = [r for r, h in zip(reference, is_test) if not h]
    labels = sorted({r["section"] for r in test})
    def kept(k, side, rows):
        return [x for n, x in rows if int(hashlib.md5(f"{SEED}:tstr:{k}:{side}:{n}".encode()).hexdigest()[:8], 16)
                < int(0.8 * 2**32)]

    for k in range(2):
        s = kept(k, "synthetic", list(enumerate([(r["section"], r["synopsis"]) for r in syn], 1)))
        # the real training rows' content keys are their places among all real rows (0-based, as passed above)
        rr = kept(k, "real", [(i, (r["section"], r["description"])) for i, (r, h) in enumerate(zip(reference, is_test))
                              if not h])
        for name, rows in (("synthetic", s), ("real", rr), ("real+synthetic", rr + s)):
            pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", sublinear_tf=True),
                                 LogisticRegression(solver="saga", tol=1e-3, max_iter=100, random_state=SEED + k))
            pipe.fit([t for _, t in rows], [y for y, _ in rows])
            p = pipe.predict([r["description"] for r in test])
            want = float(np.mean(f1_score([r["section"] for r in test], p, labels=labels, average=None,
                                          zero_division=0)))
            assert u["models"][name]["macro_f1"]["runs"][k] == round(want, 4), name
    assert len(train) == u["train_rows"]["real"]


def test_planted_exact_and_one_word_copies_are_all_flagged(env, capsys):
    """Every exact copy and every one-word edit (a word replaced, dropped or added) of a real text of 5 or more
    words is above the default bound 0.8, and `max_similarity_to_real(synopsis) <= 0.8` fails on them."""
    reference, _ = halves()
    # 5 or more words: whitespace-separated runs holding a letter or digit (`--` is no word)
    long = [r for r in reference if sum(any(c.isalnum() for c in w) for w in r["description"].split()) >= 5][:120]
    rng = random.Random(8)
    rows = []
    for k, r in enumerate(long):
        w = r["description"].split()
        i = rng.randrange(len(w))
        edit = [w, w[:i] + ["zyzzyva"] + w[i + 1:], w[:i] + w[i + 1:], w[:i] + ["zyzzyva"] + w[i:]][k % 4]
        rows.append({"section": r["section"], "synopsis": " ".join(edit)})
    (env / "pk.sds").write_text(SPEC + "constraint no_copies: max_similarity_to_real(synopsis) <= 0.8\n",
                                encoding="utf-8")
    code, ev, _ = evaluate(capsys, env, rows)
    p = ev["private"]["texts"]["synopsis"]
    assert p["above"] == len(rows) == 120 and p["max"] == 1.0
    assert code == 1 and {c["name"]: c["passed"] for c in ev["constraints"]}["no_copies"] is False


def test_the_few_shot_pool_never_holds_a_held_out_row(env):
    """The few-shot pool and `synthc eval`'s test set use one held-out predicate: no pool row is a test row."""
    from synthc.check import check_file

    spec = env / "pk.sds"
    spec.write_text(SPEC.replace('rows_per_call = 4', 'rows_per_call = 4\n  examples = real(5)'), encoding="utf-8")
    got = check_file(spec)
    assert got.spec is not None, got.diagnostics
    pool = got.spec.reference.pool
    assert len(pool) == 7 * 20  # 4 K per section
    assert not any(held({"section": r.values["section"], "description": r.values["synopsis"]}) for r in pool)
    reference, _ = halves()
    assert sum(map(held, reference)) > 150  # the predicate does hold rows out


def test_a_similarity_bound_over_no_synthetic_rows_holds(env, capsys):
    reference, _ = halves()
    (env / "pk.sds").write_text(SPEC.replace("constraint helps: tstr_lift(section, synopsis) >= 0\n", "") +
                                "constraint no_copies: max_similarity_to_real(synopsis) <= 0.8\n", encoding="utf-8")
    rows = [{**r, "_origin": "real"} for r in as_synthetic(reference[:5])]
    code, ev, _ = evaluate(capsys, env, rows)
    assert ev["data"]["rows"] == 0 and ev["constraints"] == [
        {"name": "no_copies", "expr": "(max_similarity_to_real(synopsis) <= 0.8)", "value": 0.0, "passed": True}]
    assert code == 0


COMPLETE_SPEC = """dataset pk {
  rows = 40
  seed = 13
  model = "gpt-4o-mini"
}

field section: category ~ {"admin": 50%, "games": 50%}
field synopsis: text from describe { words = 2..12 }

prompt describe {
  user = "Write the one-line synopsis of a Debian package in the {section} section."
}

reference real from "data/two.jsonl" {
  section -> section
  description -> synopsis
  complete = true
}
"""


def test_complete_mode_compares_the_completed_dataset_with_its_targets(env, capsys):
    """Complete mode (issue 19, point 6): the stratum field gets no TVD against the real file; the completed
    dataset (real and synthetic rows) is compared with the targets, 50% / 50%."""
    reference, other = halves()
    admin = [r for r in reference if r["section"] == "admin"]
    games = [r for r in other if r["section"] == "games"]
    jsonl(env / "data" / "two.jsonl", admin[:30])
    (env / "pk.sds").write_text(COMPLETE_SPEC, encoding="utf-8")
    real = [{**r, "_origin": "real"} for r in as_synthetic(admin[:30])]
    synthetic = [{**r, "_origin": "synthetic"} for r in as_synthetic(games[:10])]
    _, ev, _ = evaluate(capsys, env, real + synthetic)
    section = ev["faithful"]["fields"]["section"]
    assert section["tvd"] is None and "by_design" in section
    # 30 admin + 10 games against 50/50: TVD = (|0.75 - 0.5| + |0.25 - 0.5|) / 2 = 0.25
    assert section["completed"] == {"rows": 40, "tvd": 0.25, "shares": {
        "admin": {"dataset": 0.75, "target": 0.5}, "games": {"dataset": 0.25, "target": 0.5}}}
    # the build's output: 20 real + 20 synthetic rows meets the targets exactly
    _, ev, _ = evaluate(capsys, env, real[:20] + [{**r, "_origin": "synthetic"} for r in as_synthetic(games[:20])])
    assert ev["faithful"]["fields"]["section"]["completed"]["tvd"] == 0.0
    # the synthetic rows alone are no completed dataset: nothing to hold to the targets
    _, ev, _ = evaluate(capsys, env, synthetic)
    assert ev["faithful"]["fields"]["section"]["completed"] is None
    # and synthetic rows are compared with real ones per stratum, not against the real file's shares
    assert {(s["field"], s["value"]) for s in ev["faithful"]["strata"]} >= {("section", "admin"), ("section", "games")}
