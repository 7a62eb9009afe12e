"""`synthc build` over the chunked round engine, end to end against the loopback fake: the outputs are
byte-identical whatever `--concurrency` says (it sets the pool, never the packing), and a two-prompt build with a
rejecting constraint keeps its exact quotas."""

from __future__ import annotations

import json
from collections import Counter

from project_env import project_env
from synthc.cli import main

SPEC = """dataset pairs {
  rows = 60
  seed = 11
  model = "gpt-4o-mini"
  formats = ["jsonl", "parquet"]
}

field topic: category ~ {
  "a": 30%
  "b": 70%
}
field title: text from head { words = 1..6 }
field body: text from write { words = 2..6 }

prompt head {
  user = "A title about {topic}."
}

prompt write {
  user = "A body for the title {title}."
}

constraint short_title: word_count(title) <= 4
"""


def test_outputs_are_byte_identical_at_concurrency_1_and_8(tmp_path, monkeypatch, fake):
    outs = {}
    for conc in ("1", "8"):
        root = tmp_path / f"c{conc}"
        root.mkdir()
        project_env(root, monkeypatch)
        spec = root / "pairs.sds"
        spec.write_text(SPEC)
        code = main(["build", str(spec), "--endpoint", fake.base_url, "--out", str(root / "out"),
                     "--concurrency", conc])
        assert code == 0
        outs[conc] = {name: (root / "out" / name).read_bytes()
                      for name in ("pairs.jsonl", "pairs.parquet", "report.json", "report.md")}
    assert outs["1"] == outs["8"]
    rows = [json.loads(line) for line in outs["1"]["pairs.jsonl"].decode().splitlines()]
    assert Counter(r["topic"] for r in rows) == {"a": 18, "b": 42}  # exact quotas
    assert all(len(r["title"].split()) <= 4 for r in rows)
