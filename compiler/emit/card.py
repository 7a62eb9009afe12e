"""README.md of a built dataset's folder: a Hugging Face dataset card (docs/BUILD.md, "The dataset card").

A YAML header the Hub reads (features from the written file's column types, the number of rows, one `default`
config whose `train` split is the Parquet copy, else the JSONL; a license placeholder), then how the data was
made: the spec's digest, model, seed, the targets against the built shares, the checks and, for a spec with a
reference, the evaluation figures. A function of the report and the schema: the same build gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from .. import ir
from ..version import __version__
from .outputs import read_arrow

LICENSE_PLACEHOLDER = "other"  # the Hub's value for "not stated": replace it with the dataset's license


def _q(v) -> str:
    """A YAML scalar: JSON's quoted strings are YAML's double-quoted ones."""
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)


def _dtype(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_date32(t):
        return "date32"
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}]"
    return str(t)  # int64, double -> the Hub's names for them are the same ("float64" for double)


def _feature(name: str, t: pa.DataType, indent: str) -> list[str]:
    head = f"{indent}- name: {_q(name)}"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = t.value_type
        if pa.types.is_struct(inner):
            return [head, f"{indent}  sequence:"] + [x for f in inner for x in _feature(f.name, f.type, indent + "  ")]
        return [head, f"{indent}  sequence: {_hub(inner)}"]
    if pa.types.is_struct(t):
        return [head, f"{indent}  struct:"] + [x for f in t for x in _feature(f.name, f.type, indent + "  ")]
    return [head, f"{indent}  dtype: {_hub(t)}"]


def _hub(t: pa.DataType) -> str:
    d = _dtype(t)
    return {"double": "float64", "float": "float32"}.get(d, d)


def card(report: Mapping, schema: pa.Schema, data_file: str, *, spec_digest: str, seed: int, data_bytes: int,
         description: str | None = None) -> str:
    """The card's text. `data_file`: the file the `train` split reads, relative to the folder."""
    r = report
    size = _size(r["rows"])
    lines = ["---", f"license: {LICENSE_PLACEHOLDER}", "size_categories:", f"- {size}",
             "tags:", "- synthetic", "- synthc", "configs:", "- config_name: default", "  data_files:",
             "  - split: train", f"    path: {_q(data_file)}", "dataset_info:", "  features:"]
    for f in schema:
        lines += _feature(f.name, f.type, "  ")
    lines += ["  splits:", "  - name: train", f"    num_bytes: {data_bytes}",
              f"    num_examples: {r['rows']}", "---", ""]
    name = r["dataset"]
    lines += [f"# {name}", ""]
    if description:
        lines += [description, ""]
    checks = r["checks"]
    passed = sum(c["passed"] for c in checks)
    lines += [f"A synthetic dataset of {r['rows']:,} rows declared in a synthc spec and built by synthc "
              f"{__version__}: every row was checked against the spec's constraints ({passed} of {len(checks)} "
              "checks pass).", "",
              "| | |", "| --- | --- |",
              f"| spec digest (IR sha256) | `{spec_digest}` |",
              f"| model | `{r['model']}` |",
              f"| seed | {seed} |",
              f"| rows | {r['rows']:,} |",
              f"| file | `{data_file}` |",
              f"| calls (the whole dataset) | {r['calls_full_rebuild']:,} |", ""]
    lines += _targets(r["marginals"], r["tvd"])
    lines += ["## Checks", "", "| check | kind | passed |", "| --- | --- | --- |"]
    lines += [f"| {c['name']} | {c['kind']} | {'yes' if c['passed'] else 'no'} |" for c in checks]
    lines.append("")
    lines += _eval(r.get("eval"))
    lines += ["## Files", "",
              "`report.md`, `report.json` and `report.html` beside this card hold every figure (rejected rows, judges, "
              "content quality, calls and cost); the spec and its lock say how to rebuild it byte for byte.", "",
              "License: not stated yet (`other`): set `license` in the header above before publishing.", ""]
    return "\n".join(lines)


def _size(n: int) -> str:
    """The Hub's size category."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"


def _targets(marginals: Mapping, tvd: Mapping) -> list[str]:
    if not marginals:
        return []
    out = ["## Targets", "", "| field | value | target | built |", "| --- | --- | ---: | ---: |"]
    for field, values in marginals.items():
        for value, v in values.items():
            out.append(f"| {field} | {value} | {100 * v['target']:.1f}% | {100 * v['actual']:.1f}% |")
    out += ["", "Total variation distance per field: " + ", ".join(f"{k} {v:.3f}" for k, v in tvd.items()) + ".", ""]
    return out


def _eval(ev: Mapping | None) -> list[str]:
    if not ev:
        return []
    out = ["## Against real data", "", f"{ev['data']['rows']:,} synthetic rows against {ev['real']['rows']:,} real rows.",
           "", "| field | kind | distance | discriminator AUC |", "| --- | --- | ---: | ---: |"]
    for name, x in ev["faithful"]["fields"].items():
        dist = x.get("tvd") if x["kind"] == "categorical" else x.get("ks") if x["kind"] == "numeric" else x.get("length_ks")
        out.append(f"| {name} | {x['kind']} | {_f(dist)} | {_f(x.get('auc'))} |")
    out.append("")
    for t, p in ev["private"]["texts"].items():
        out.append(f"- `{t}`: similarity to the nearest real text: max {_f(p['max'])}, {p['above']:,} texts above "
                   f"{ev['private']['thresholds'][t]}")
    u = ev["useful"]
    if not u.get("skipped"):
        out.append(f"- train on synthetic, test on real (`{u['label']}` from `{u['text']}`): lift of real+synthetic "
                   f"over real {_f(u['lift']['mean'])}")
    return out + [""]


def _f(v) -> str:
    return "–" if v is None else f"{v:.3f}"


def dataset_card(spec: ir.Spec, report: Mapping, digest: str, files: Sequence) -> str:
    """The card of a build whose dataset files are `files` (the JSONL first): the split reads the Parquet copy
    when there is one, with the column types it holds."""
    parquet = next((Path(p) for p in files if Path(p).suffix == ".parquet"), None)
    data = parquet or Path(files[0])
    schema = pq.read_schema(parquet) if parquet is not None else read_arrow(spec, data).schema
    return card(report, schema, data.name, spec_digest=digest, seed=spec.dataset.seed,
                data_bytes=data.stat().st_size, description=spec.dataset.description)
