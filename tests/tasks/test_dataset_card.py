"""The dataset card (docs/BUILD.md, "The dataset card"): a build's README.md in the Hugging Face form, whose YAML
header names the written file's features, size and split, and which `datasets.load_dataset` reads as it is."""

from __future__ import annotations

import json

import datasets
import pyarrow.parquet as pq
import pytest
import yaml

from project_env import project_env
from synthc.cli import main

SPEC = """dataset shelf_labels {
  rows = 20
  seed = 9
  model = "gpt-4o-mini"
  formats = [jsonl, parquet]
  description = "Short labels for boxes on shelves."
}

field shelf: category ~ { "top": 50%  "bottom": 50% }
field count: int in 1..9
field fragile: bool ~ { true: 25%  false: 75% }
field label: text from write { words = 2..6 }

prompt write {
  user = "Write a label for a box of {count} items on the {shelf} shelf."
  rows_per_call = 5
}

constraint has_words: word_count(label) >= 1
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    return project_env(tmp_path, monkeypatch)


def build(env, fake, spec_text: str) -> tuple:
    spec = env / "shelf.sds"
    spec.write_text(spec_text, encoding="utf-8")
    assert main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(env / "out")]) == 0
    card = (env / "out" / "README.md").read_text(encoding="utf-8")
    _, header, body = card.split("---\n", 2)
    return yaml.safe_load(header), body


def test_the_card_describes_the_parquet_and_loads_with_datasets(env, fake):
    meta, body = build(env, fake, SPEC)
    out = env / "out"
    schema = pq.read_schema(out / "shelf_labels.parquet")
    assert meta["configs"] == [{"config_name": "default",
                                "data_files": [{"split": "train", "path": "shelf_labels.parquet"}]}]
    features = meta["dataset_info"]["features"]
    assert [f["name"] for f in features] == schema.names == ["_id", "shelf", "count", "fragile", "label"]
    assert {f["name"]: f["dtype"] for f in features} == {"_id": "string", "shelf": "string", "count": "int64",
                                                          "fragile": "bool", "label": "string"}
    assert meta["dataset_info"]["splits"] == [{"name": "train", "num_examples": 20,
                                               "num_bytes": (out / "shelf_labels.parquet").stat().st_size}]
    assert meta["license"] == "other" and meta["size_categories"] == ["n<1K"]
    # the folder loads as it is, as the Hub would load it, with the card's features
    loaded = datasets.load_dataset(str(out), cache_dir=str(env / "hf"))
    train = loaded["train"]
    assert train.num_rows == 20 and train.column_names == schema.names
    assert train.features["count"].dtype == "int64" and train.features["fragile"].dtype == "bool"
    assert train.to_list() == pq.read_table(out / "shelf_labels.parquet").to_pylist()
    # how it was made
    lock = json.loads((env / "shelf.sds.lock").read_text(encoding="utf-8"))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert f"`{lock['ir_sha256']}`" in body and "| model | `gpt-4o-mini` |" in body and "| seed | 9 |" in body
    assert "Short labels for boxes on shelves." in body
    shares = report["marginals"]["shelf"]["top"]
    assert f"| shelf | top | {100 * shares['target']:.1f}% | {100 * shares['actual']:.1f}% |" in body
    assert "| has_words | row | yes |" in body


def test_without_parquet_the_split_is_the_jsonl(env, fake):
    meta, _ = build(env, fake, SPEC.replace("  formats = [jsonl, parquet]\n", ""))
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "shelf_labels.jsonl"}]
    loaded = datasets.load_dataset(str(env / "out"), cache_dir=str(env / "hf"))
    assert loaded["train"].num_rows == 20 and loaded["train"].features["count"].dtype == "int64"
