"""`synthc ingest`: OpenAI Batch API output for a plan emitted with `plan --emit-batch`, into the answer cache.

Each output line is `{"custom_id", "response": {"status_code", "body": <chat completion>}}` (or an `error`).
custom_id is a call id of round 1; the request body it stands for is rebuilt as the build will ask it
(`generate.predict.batch_lines`, which `plan --emit-batch` wrote), and the answer is stored under the key the build
will look up, so the build that follows finds it and makes only the calls the batch did not answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .. import ir
from ..plan import Plan
from ..generate.predict import batch_lines
from ..run.batches import emitted as emitted_calls
from ..run.cache import AnswerCache, canonical_request, request_key
from ..run.ledger import Ledger
from ..run.client import Answer


class IngestError(Exception):
    """RESULTS cannot be read at all (exit 2)."""


@dataclass
class IngestSummary:
    stored: int = 0
    already: int = 0  # the cache held an answer for it already (kept: cached answers are never replaced)
    failed: int = 0  # lines with an error or a status other than 200
    unknown: list[str] = field(default_factory=list)  # custom_ids that are no call of this plan's round 1
    bad: int = 0  # lines that are not a Batch API output object
    expected: Optional[tuple[str, str]] = None  # (endpoint, model) an unknown custom_id's batch was emitted for
    models: set[str] = field(default_factory=set)  # the models the batch's answers name


def answer_of(body: dict) -> Answer:
    """A chat completion object (the `response.body` of a Batch line) as an Answer."""
    choices = body.get("choices") or []
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    usage = body.get("usage") or {}
    return Answer(content=(choice.get("message") or {}).get("content") or "",
                  finish_reason=choice.get("finish_reason"),
                  prompt_tokens=int(usage.get("prompt_tokens") or 0),
                  completion_tokens=int(usage.get("completion_tokens") or 0),
                  model=body.get("model"), mode="json_schema")


def _resolve(cid: str, requests: dict, emitted: dict, model: Optional[str], out: IngestSummary) -> Optional[dict]:
    """The request a custom_id stands for: the one a batch emitted for this model asked (its manifest,
    run.batches: round 1 or a top-up batch; the endpoint may differ, since the Batch API's answer is filed under
    this build's endpoint), else a call of round 1 as the plan asks it now (a batch emitted before manifests were
    kept). None when the custom_id's batches were all emitted for another model (noted in `out.expected`:
    filed here, their answers would stand for requests this build never makes), or when nothing knows it."""
    entries = emitted.get(cid, ())
    mine = [e for e in entries if model is None or e.model == model]
    if mine:
        return mine[0].body
    if entries:
        out.expected = out.expected or (entries[0].endpoint, entries[0].model)
        return None
    return requests.get(cid)


def ingest(spec: ir.Spec, plan: Plan, identity: str, cache: AnswerCache, results: Path, model: Optional[str] = None,
           ledger: Optional[Ledger] = None) -> IngestSummary:
    """Stores the batch's answers; each stored one is recorded in the build's ledger (`ledger`) as a batch
    answer, so the build's ceiling counts it and `cache gc` keeps it."""
    requests = {r["custom_id"]: r["body"] for r in batch_lines(spec, plan, identity, cache, new_only=False)}
    emitted = emitted_calls(cache.root)
    out = IngestSummary()
    if Path(results).exists() and not Path(results).is_file():  # a device or a pipe could stream without end (LANGUAGE.md, "Limits")
        raise IngestError(f"{results}: not a regular file; save the Batch API output to a file first")
    try:
        lines = Path(results).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise IngestError(f"{results}: cannot read it ({e})") from None
    for line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            cid = item["custom_id"]
            response = item.get("response") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            out.bad += 1
            continue
        if item.get("error") or not isinstance(response, dict) or response.get("status_code") != 200 \
                or not isinstance(response.get("body"), dict):
            out.failed += 1
            continue
        if isinstance(response["body"].get("model"), str):
            out.models.add(response["body"]["model"])
        body = _resolve(str(cid), requests, emitted, model, out)
        if body is None:
            out.unknown.append(str(cid))
            continue
        key = request_key(identity, body)
        if cache.get(key) is not None:
            out.already += 1
            continue
        answer = answer_of(response["body"])
        cache.put(key, canonical_request(identity, body), answer.to_dict())
        if ledger is not None:
            ledger.record(key, answer.prompt_tokens, answer.completion_tokens, batch=True)
        out.stored += 1
    if out.bad and not (out.stored or out.already or out.failed or out.unknown):
        raise IngestError(f"{results}: no line is OpenAI Batch API output "
                          '({"custom_id": ..., "response": {"status_code": ..., "body": ...}})')
    return out
