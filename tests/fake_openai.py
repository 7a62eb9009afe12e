"""A loopback fake of an OpenAI-compatible server, for tests: counts calls and tokens, records requests, and
can be scripted with one fault per call (429 with Retry-After, 5xx, slow answers, truncated JSON, rows that
break the schema, wrong row counts, empty answers).

Its normal answer is a deterministic instance of the request's JSON schema, drawn from a hash of the request
body. A call of k rows (docs/BUILD.md "Request format") is answered with k rows whose handles (`row`, or
`_row`) are 1..k in order, as our prompts ask; `requests_of` reads each row's request back from the user
message (the template filled with the values of its row line).

Judge requests (response_format schema named `judge_NAME`, compiler/plan/judges.py) are answered "yes" (true, or
the top of the scale) for every row unless `fake.judge` (a `JudgeBehaviour`) says otherwise: "no" (false, or the
bottom of the scale) for the rows whose question contains a text, or for a share of rows picked by a hash of the
row's question; or garbage (verdicts of the wrong type and handles nobody asked for).
`fake.judge_calls` counts them.

Real models do not answer the way our prompts expect, so the fake can also misbehave on every call
(`Misbehaviour`, set as `FakeOpenAI(misbehave=...)` or later as `fake.misbehave = ...`): a field that always
has one value (so a named constraint is never met), invented handles with the right count, fewer rows than
asked, rows in another order. A run of empty answers is `fake.push(*[empty()] * n)`.

    with FakeOpenAI() as fake:
        fake.push(rate_limit(retry_after=0.2), server_error())
        ... AsyncOpenAI(base_url=fake.base_url, ...) ...
        assert fake.calls == 3
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

HANDLES = ("row", "_row")  # the key of a row's handle in a call of several rows (plan.schema.handle_key)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
ALL_MODES = frozenset({"json_schema", "json_object_schema", "json_object"})
_WORDS = ("amber quiet river stone ledger orbit velvet signal harbor maple copper lantern meadow cipher "
          "glacier tundra ember falcon prism cobalt").split()


@dataclass
class Fault:
    """What the fake does to one call instead of (or to) its normal answer.

    kind: status (answer `status` with an error body, `retry_after` as a header), delay (answer normally
    after `delay` seconds), truncate (cut the content at `fraction`, finish_reason "length"), bad_rows (the
    first `count` rows get a null first field), wrong_count (`delta` rows fewer or more), empty (content ""),
    echo_auth (status with the request's Authorization header in the error message), same_text (field `name`
    of every row is "same old words"), given_text (field `name` of every row is `value`).
    """

    kind: str
    status: int = 500
    retry_after: Optional[str] = None
    delay: float = 0.0
    fraction: float = 0.5
    count: int = 1
    delta: int = -1
    name: str = ""
    value: str = ""


def rate_limit(retry_after: Optional[float] = None) -> Fault:
    return Fault("status", status=429, retry_after=None if retry_after is None else f"{retry_after:g}")


def server_error(status: int = 500) -> Fault:
    return Fault("status", status=status)


def slow(delay: float) -> Fault:
    return Fault("delay", delay=delay)


def truncated(fraction: float = 0.5) -> Fault:
    return Fault("truncate", fraction=fraction)


def bad_rows(count: int = 1) -> Fault:
    return Fault("bad_rows", count=count)


def wrong_count(delta: int = -1) -> Fault:
    return Fault("wrong_count", delta=delta)


def empty() -> Fault:
    return Fault("empty")


def same_text(name: str) -> Fault:
    return Fault("same_text", name=name)


def given_text(name: str, value: str) -> Fault:
    return Fault("given_text", name=name, value=value)


def echo_auth(status: int = 401) -> Fault:
    return Fault("echo_auth", status=status)


@dataclass(frozen=True)
class Misbehaviour:
    """What the fake does to every answer. constant: field -> the value every row gets. invent_ids: rows keep their
    order and count but carry handles nobody asked for (numbers past k). fewer: that many rows fewer than asked
    (calls of more than one row). reorder: rows in reverse order (handles copied). pad: (text, field, n): the
    rows whose request (the template filled with their values, `requests_of`) contains the text get n more words
    in the field, so a label the request names can be read off the text's length (a planted shortcut). slug:
    fields whose words are joined with `-` and end in a number drawn from 10^6 (a name such as
    `amber-quiet-river-48213`: the few words alone repeat often enough that `unique(...)` would reject some)."""

    constant: tuple[tuple[str, Any], ...] = ()
    slug: tuple[str, ...] = ()
    invent_ids: bool = False
    fewer: int = 0
    reorder: bool = False
    pad: tuple[tuple[str, str, int], ...] = ()

    def apply(self, instance: Any, rng: random.Random, user: str = "") -> Any:
        rows = _rows(instance)
        sections = requests_of(user) if self.pad else []
        for i, row in enumerate(rows):
            for name, value in self.constant:
                if name in row:
                    row[name] = value
            section = sections[i] if i < len(sections) else ""
            for text, name, n in self.pad:
                if text in section and isinstance(row.get(name), str):
                    row[name] += "".join(" " + rng.choice(_WORDS) for _ in range(n))
            for name in self.slug:
                if isinstance(row.get(name), str):
                    row[name] = f"{row[name].replace(' ', '-')}-{rng.randrange(10 ** 6)}"
        listed = isinstance(instance, dict) and isinstance(instance.get("rows"), list)
        if listed and self.invent_ids:
            invent(rows, rng)
        if listed and self.fewer and len(rows) > 1:
            del rows[max(1, len(rows) - self.fewer):]
        if listed and self.reorder:
            rows.reverse()
        return instance


@dataclass(frozen=True)
class JudgeBehaviour:
    """How the fake answers judge requests. no_when: rows whose question (the template filled with the row's
    values, `requests_of`) contains this text are answered "no". no_share: that share of rows, by a hash of the
    question, too. garbage: every verdict is the string "maybe" and every handle an invented one."""

    no_when: str = ""
    no_share: float = 0.0
    garbage: bool = False

    def verdict(self, prop: dict, question: str):
        if self.garbage:
            return "maybe"
        no = bool(self.no_when and self.no_when in question) or \
            bool(self.no_share and int(hashlib.sha256(question.encode()).hexdigest()[:8], 16) < self.no_share * 2 ** 32)
        if prop.get("type") == "boolean":
            return not no
        values = prop.get("enum") or [prop.get("minimum", 0), prop.get("maximum", 1)]
        return min(values) if no else max(values)


def judge_name(body: dict) -> Optional[str]:
    """The judge a request is for (its schema is named `judge_NAME`), or None for a generation request."""
    rf = body.get("response_format") or {}
    name = (rf.get("json_schema") or {}).get("name") or ""
    return name[len("judge_"):] if rf.get("type") == "json_schema" and name.startswith("judge_") else None


def requests_of(user: str) -> list[str]:
    """Each row's request in a user message, in handle order: the shared template filled with the values of the
    row's line, in the columns the rows' header names (a merged line, "2-4", gives each of its rows); k copies of
    the request when a call's rows all ask the same (no lines); for a one-row call, the text before its answer
    instruction. docs/BUILD.md "Request format"."""
    same = re.search(r"^Write (\d+) different rows for this request:\n(.*?)\n\nAnswer \{", user, re.S | re.M)
    if same:
        return [same.group(2)] * int(same.group(1))
    m = re.search(r"\{placeholders\}:\n(.*?)\n\nRows(?: (\d+)-\d+)?, one per line as \[([^\]\n]*)\][^\n]*:\n(.*?)"
                  r"(?:\n\n|$)", user, re.S)
    if not m:
        return [user.split("\n\nAnswer with one JSON object with these fields:")[0]]
    template, first, names, found = m.group(1), m.group(2), m.group(3).split(", "), {}
    for n, line in enumerate(m.group(4).splitlines()):
        values = json.loads(line)
        if first is None:  # lines name their rows: [handle, values...]
            handle, values, columns = values[0], values[1:], names[1:]
        else:  # rows first..k, one line each, in order
            handle, columns = int(first) + n, names
        filled = dict(zip(columns, values))
        text = _PLACEHOLDER.sub(lambda p: _text(filled[p.group(1)]) if p.group(1) in filled else p.group(0), template)
        for h in _numbers(handle):
            found[h] = text
    return [found[h] for h in sorted(found)]


def _numbers(handle) -> list[int]:
    if isinstance(handle, int):
        return [handle]
    out = []
    for part in str(handle).split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def _text(v) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def invent(rows: list, rng: random.Random) -> None:
    """Handles nobody asked for: numbers past the call's rows."""
    for row in rows:
        for h in (*HANDLES, "id"):
            if h in row:
                row[h] = len(rows) + 1 + rng.randrange(1000)


def judge_answer(behaviour: "JudgeBehaviour", body: dict, instance: Any, rng: random.Random) -> Any:
    """The instance with each row's verdict set as `behaviour` says."""
    name = judge_name(body)
    user = [m.get("content") for m in body.get("messages") or [] if m.get("role") == "user"]
    sections = requests_of(user[-1] if user and isinstance(user[-1], str) else "")
    _, schema = request_mode(body)
    listed = isinstance(instance, dict) and isinstance(instance.get("rows"), list)
    props = (schema["properties"]["rows"]["items"] if listed else schema).get("properties") or {}
    rows = _rows(instance)
    for i, row in enumerate(rows):
        if name in row:
            row[name] = behaviour.verdict(props.get(name) or {}, sections[i] if i < len(sections) else "")
    if behaviour.garbage and listed:
        invent(rows, rng)
    return instance


@dataclass
class Recorded:
    """One request as it arrived: monotonic time, headers (lower-case names), JSON body, the status answered."""

    at: float
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class FakeOpenAI:
    """modes: the response_format modes the fake accepts; others get HTTP 500 naming response_format,
    as llama.cpp's server does for json_schema."""

    modes: frozenset[str] = ALL_MODES
    model: str = "fake-model"
    misbehave: Misbehaviour = Misbehaviour()
    judge: JudgeBehaviour = JudgeBehaviour()
    requests: list[Recorded] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0  # the most chat requests being answered at once

    def __post_init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # ---- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> "FakeOpenAI":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the serve loop to notice, 0.5 s by default.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name="fake-openai",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    # ---- scripting and counting ---------------------------------------------------------------------------

    def push(self, *faults: Fault) -> None:
        """Faults for the next chat calls, one per call, in order; calls past them are answered normally."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def calls(self) -> int:
        return len(self.chat_requests)

    @property
    def judge_requests(self) -> list[Recorded]:
        return [r for r in self.chat_requests if isinstance(r.body, dict) and judge_name(r.body) is not None]

    @property
    def judge_calls(self) -> int:
        return len(self.judge_requests)

    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    # ---- answers ------------------------------------------------------------------------------------------

    def answer(self, body: dict, fault: Optional[Fault] = None) -> tuple[int, dict, dict]:
        """(status, extra headers, JSON body) for one chat request."""
        mode, schema = request_mode(body)
        if fault and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return fault.status, headers, error_body(f"injected HTTP {fault.status}")
        if mode not in self.modes:
            return 500, {}, error_body(f"response_format type {mode} is not supported by this server")
        if schema is None:
            schema = schema_in_messages(body.get("messages") or [])
        instance = make_instance(schema, body) if schema is not None else {}
        finish = "stop"
        if fault and fault.kind == "bad_rows":
            break_rows(instance, fault.count)
        if fault and fault.kind == "wrong_count":
            instance = change_count(instance, fault.delta)
        user = [m.get("content") for m in body.get("messages") or [] if m.get("role") == "user"]
        instance = self.misbehave.apply(instance, random.Random(_digest(body) + "misbehave"),
                                        user[-1] if user and isinstance(user[-1], str) else "")
        if fault and fault.kind == "same_text":  # after misbehaving: the copies stay copies
            for row in _rows(instance):
                if fault.name in row:
                    row[fault.name] = "same old words"
        if fault and fault.kind == "given_text":
            for row in _rows(instance):
                if fault.name in row:
                    row[fault.name] = fault.value
        if judge_name(body) is not None:
            instance = judge_answer(self.judge, body, instance, random.Random(_digest(body) + "judge"))
        content = json.dumps(instance, ensure_ascii=False)
        if fault and fault.kind == "truncate":
            content, finish = content[: int(len(content) * fault.fraction)], "length"
        if fault and fault.kind == "empty":
            content = ""
        prompt = sum(_tokens(m.get("content")) for m in body.get("messages") or [])
        completion = _tokens(content)
        with self._lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion
        return 200, {}, {
            "id": "chatcmpl-" + _digest(body)[:12],
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model") or self.model,
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    fake: FakeOpenAI

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _record(self, body: Any) -> Recorded:
        rec = Recorded(at=time.monotonic(), path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
                       body=body)
        with self.fake._lock:
            self.fake.requests.append(rec)
        return rec

    def _send(self, status: int, payload: dict, headers: Optional[dict] = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def do_GET(self) -> None:
        rec = self._record(None)
        if self.path.rstrip("/").endswith("/models"):
            rec.status = 200
            self._send(200, {"object": "list", "data": [{"id": self.fake.model, "object": "model"}]})
        else:
            rec.status = 404
            self._send(404, error_body("not found"))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        rec = self._record(body)
        if not self.path.rstrip("/").endswith("/chat/completions") or not isinstance(body, dict):
            rec.status = 404 if isinstance(body, dict) else 400
            self._send(rec.status, error_body("unsupported request"))
            return
        with self.fake._lock:
            self.fake.in_flight += 1
            self.fake.peak_in_flight = max(self.fake.peak_in_flight, self.fake.in_flight)
        try:
            self._chat(rec, body)
        finally:
            with self.fake._lock:
                self.fake.in_flight -= 1

    def _chat(self, rec: Recorded, body: dict) -> None:
        fault = self.fake._next_fault()
        if fault and fault.kind == "echo_auth":
            rec.status = fault.status
            self._send(fault.status, error_body(f"bad credentials: {self.headers.get('Authorization')}"))
            return
        if fault and fault.kind == "delay":
            if self.fake._stopping.wait(fault.delay):
                return
        status, headers, payload = self.fake.answer(body, fault)
        rec.status = status
        self._send(status, payload, headers)


# ---- schema instances ---------------------------------------------------------------------------------------


def error_body(message: str) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def request_mode(body: dict) -> tuple[str, Optional[dict]]:
    """(mode, schema) of a request's response_format; mode "json_object" also when there is none."""
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return "json_schema", (rf.get("json_schema") or {}).get("schema")
    if rf.get("type") == "json_object" and isinstance(rf.get("schema"), dict):
        return "json_object_schema", rf["schema"]
    return "json_object", None


def schema_in_messages(messages: list) -> Optional[dict]:
    """The first JSON object with a `type` key found in a system message (plain JSON mode carries it there)."""
    for m in messages:
        text = m.get("content") if m.get("role") == "system" else None
        if not isinstance(text, str):
            continue
        for start in (i for i, c in enumerate(text) if c == "{"):
            try:
                value, _ = json.JSONDecoder().raw_decode(text, start)
            except ValueError:
                continue
            if isinstance(value, dict) and "type" in value:
                return value
    return None


def make_instance(schema: dict, body: dict) -> Any:
    """A valid instance of `schema`, the same for the same request body; rows of a call numbered 1..k."""
    rng = random.Random(_digest(body))
    rows = (schema.get("properties") or {}).get("rows") or {}
    handles = deque(range(1, rows.get("maxItems", 0) + 1) if _is_row_list(rows) else ())
    return _instance(schema, rng, handles, top=True)


def _instance(s: dict, rng: random.Random, ids: deque, top: bool = False) -> Any:
    if "enum" in s:
        return rng.choice(s["enum"])
    if "const" in s:
        return s["const"]
    for alt in ("anyOf", "oneOf"):
        if alt in s:
            return _instance(s[alt][0], rng, ids)
    t = s.get("type", "string")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t == "object":
        out = {}
        for name, sub in (s.get("properties") or {}).items():
            if name in HANDLES and sub.get("type") == "integer" and ids:
                out[name] = ids.popleft()
            else:
                out[name] = _instance(sub, rng, ids)
        return out
    if t == "array":
        lo, hi = s.get("minItems", 1), s.get("maxItems")
        n = lo
        if _is_row_list(s) and ids:
            n = max(lo, len(ids))
        n = min(n, hi) if hi is not None else n
        return [_instance(s.get("items") or {}, rng, ids) for _ in range(n)]
    if t == "integer":
        lo = s.get("minimum", 0)
        return rng.randint(lo, s.get("maximum", lo + 100))
    if t == "number":
        lo = s.get("minimum", 0.0)
        return round(rng.uniform(lo, s.get("maximum", lo + 100.0)), 3)
    if t == "boolean":
        return rng.random() < 0.5
    if t == "null":
        return None
    if s.get("format") == "date":
        return (dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(2000))).isoformat()
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6)))


def _is_row_list(s: dict) -> bool:
    items = s.get("items") or {}
    return items.get("type") == "object" and any(h in (items.get("properties") or {}) for h in HANDLES)


def _rows(instance: Any) -> list:
    if isinstance(instance, dict) and isinstance(instance.get("rows"), list):
        return instance["rows"]
    if isinstance(instance, list):
        return instance
    return [instance] if isinstance(instance, dict) else []


def break_rows(instance: Any, count: int) -> None:
    """Null the first field but the handle of the first `count` rows (no row schema here admits null)."""
    for row in _rows(instance)[:count]:
        name = next((k for k in row if k not in HANDLES), None)
        if name is not None:
            row[name] = None


def change_count(instance: Any, delta: int) -> Any:
    """The answer with `delta` rows fewer or more; a one-row call's bare object becomes a list of rows."""
    if not (isinstance(instance, dict) and isinstance(instance.get("rows"), list)) and not isinstance(instance, list):
        instance = {"rows": [instance] if isinstance(instance, dict) else []}
    rows = _rows(instance)
    if delta < 0:
        del rows[len(rows) + delta:]
    for i in range(delta):
        extra = copy.deepcopy(rows[-1]) if rows else {}
        for h in HANDLES:
            if h in extra:
                extra[h] = len(rows) + 1
        rows.append(extra)
    return instance


def _digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def _tokens(text: Any) -> int:
    return len(text.split()) if isinstance(text, str) else 0
