"""The client against a loopback fake server over real HTTP: retries per fault kind, Retry-After, adaptive
concurrency, response_format fallback, the cache in front, salvage of faulty answers, and no leaked secret."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import socket
import time

import pytest

from fake_openai import (FakeOpenAI, Fault, bad_rows, echo_auth, empty, rate_limit, server_error, slow, truncated,
                         wrong_count)
from synthc import ir
from synthc.plan.requests import messages, output_schema, schema_name
from synthc.run.cache import AnswerCache
from synthc.run.client import Answer, CallError, ChatClient, RetryPolicy, apply_mode, retry_after
from synthc.run.fetch import fetch
from synthc.run.limiter import AdaptiveLimiter
from synthc.run.salvage import row_model, salvage
from synthc.plan.schema import response_format

FAST = RetryPolicy(attempts=4, backoff_base=0.002, backoff_cap=0.01, timeout=5.0)
SECRET = "sk-synthc-test-SECRET-4242-do-not-leak"
FIELDS = [ir.Field(name="title", role="generated", type=ir.Type(kind="text")),
          ir.Field(name="rating", role="generated", type=ir.Type(kind="int", low=1, high=5))]
IDS = [f"c0ffee-{i:06d}" for i in range(3)]


def rows_format(k: int) -> dict:
    row = {"type": "object", "additionalProperties": False, "required": ["row", "title", "rating"],
           "properties": {"row": {"type": "integer", "enum": list(range(1, k + 1))}, "title": {"type": "string"},
                          "rating": {"type": "integer", "minimum": 1, "maximum": 5}}}
    schema = {"type": "object", "additionalProperties": False, "required": ["rows"],
              "properties": {"rows": {"type": "array", "items": row, "minItems": k, "maxItems": k}}}
    return {"type": "json_schema", "json_schema": {"name": "rows", "strict": True, "schema": schema}}


def body(ids=IDS, seed=1) -> dict:
    return {
        "model": "fake-model",
        "messages": [{"role": "system", "content": "You write reviews."},
                     {"role": "user", "content": "Write one row for each id: " + ", ".join(ids)}],
        "response_format": rows_format(len(ids)),
        "temperature": 0.7,
        "max_tokens": 500,
        "seed": seed,
    }


def run(coro):
    return asyncio.run(coro)


async def one(fake_or_url, b=None, **kw) -> Answer:
    url = fake_or_url if isinstance(fake_or_url, str) else fake_or_url.base_url
    kw.setdefault("policy", FAST)
    async with ChatClient(url, kw.pop("api_key", SECRET), rng=random.Random(0), **kw) as c:
        return await c.complete(b or body())


def test_a_call_returns_rows_that_validate_and_counts_tokens(fake):
    async def go():
        async with ChatClient(fake.base_url, SECRET, policy=FAST) as c:
            a = await c.complete(body())
            return a, c

    answer, client = run(go())
    assert fake.calls == 1 and answer.finish_reason == "stop" and answer.mode == "json_schema"
    got = salvage(answer.content, IDS, row_model(FIELDS))
    assert list(got.rows) == IDS and got.rejected == []
    assert (answer.prompt_tokens, answer.completion_tokens) == (fake.prompt_tokens, fake.completion_tokens)
    assert client.prompt_tokens == fake.prompt_tokens > 0
    sent = fake.chat_requests[0].body
    assert sent["seed"] == 1 and sent["temperature"] == 0.7 and sent["max_tokens"] == 500


@pytest.mark.parametrize("fault", [rate_limit(), server_error(500), server_error(502), server_error(503),
                                   server_error(408), server_error(409), slow(1.0)],
                         ids=["429", "500", "502", "503", "408", "409", "timeout"])
def test_transient_faults_are_retried(fake, fault):
    fake.push(fault)
    policy = RetryPolicy(attempts=3, backoff_base=0.002, backoff_cap=0.01, timeout=0.3)
    answer = run(one(fake, policy=policy))
    assert fake.calls == 2
    assert [r.status for r in fake.chat_requests][1] == 200
    assert json.loads(answer.content)["rows"]


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_not_retried(fake, status):
    fake.push(server_error(status))
    with pytest.raises(CallError) as e:
        run(one(fake))
    assert fake.calls == 1
    assert e.value.status == status and e.value.kind == "status"


def test_gives_up_after_the_policy_attempts(fake):
    fake.push(*[server_error(500)] * 5)
    with pytest.raises(CallError) as e:
        run(one(fake))
    assert fake.calls == FAST.attempts == e.value.attempts
    assert "HTTP 500" in str(e.value) and "after 4 attempts" in str(e.value)


def test_timeouts_exhausted_say_so(fake):
    fake.push(*[slow(1.0)] * 2)
    with pytest.raises(CallError) as e:
        run(one(fake, policy=RetryPolicy(attempts=2, backoff_base=0.001, timeout=0.15)))
    assert e.value.kind == "timeout" and fake.calls == 2


def test_connection_errors_are_retried_then_reported():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    with pytest.raises(CallError) as e:
        run(one(url, policy=RetryPolicy(attempts=2, backoff_base=0.001, timeout=1.0)))
    assert e.value.kind == "connection" and e.value.attempts == 2


def test_retry_after_is_honoured(fake, caplog):
    caplog.set_level(logging.INFO, logger="synthc.run")
    fake.push(rate_limit(retry_after=0.3), server_error(503))
    run(one(fake))
    first, second, third = fake.chat_requests
    assert second.at - first.at >= 0.3
    waits = [float(r.getMessage().rsplit(" in ", 1)[1].split()[0]) for r in caplog.records if "retry" in r.getMessage()]
    assert waits[0] >= 0.3 and waits[1] <= FAST.backoff_cap  # a 503 without the header waits only the backoff


def test_retry_after_header_forms():
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after({"retry-after": future}) <= 31
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None


def test_backoff_is_jittered_exponential_and_seeded():
    p = RetryPolicy(backoff_base=1.0, backoff_cap=8.0)
    draws = [p.backoff(n, random.Random(5)) for n in range(6)]
    assert draws == [p.backoff(n, random.Random(5)) for n in range(6)]
    for n, d in enumerate(draws):
        cap = min(8.0, 2.0 ** n)
        assert cap / 2 <= d <= cap
    rng = random.Random(1)
    assert len({p.backoff(3, rng) for _ in range(10)}) == 10  # jitter: calls retrying together spread out


def test_limiter_halves_once_per_epoch_and_grows_back():
    lim = AdaptiveLimiter(8, grow_after=3)
    lim.throttle(0)
    lim.throttle(0)  # a second 429 from a call of the same epoch: no second cut
    assert lim.limit == 4
    lim.throttle(lim.epoch)
    assert lim.limit == 2
    for _ in range(3):
        lim.success()
    assert lim.limit == 3
    for _ in range(100):
        lim.success()
    assert lim.limit == 8  # never past the profile's concurrency
    for _ in range(10):
        lim.throttle(lim.epoch)
    assert lim.limit == 1


def test_concurrency_is_bounded_and_cut_on_429(fake):
    fake.push(*[slow(0.05)] * 12)

    async def go():
        async with ChatClient(fake.base_url, SECRET, concurrency=3, policy=FAST) as c:
            await asyncio.gather(*(c.complete(body(seed=i)) for i in range(12)))
            return c

    client = run(go())
    assert fake.calls == 12 and fake.peak_in_flight == 3 and client.limiter.peak == 3

    fake.push(rate_limit(0.01), rate_limit(0.01), rate_limit(0.01))

    async def throttled():
        async with ChatClient(fake.base_url, SECRET, concurrency=4, policy=FAST, grow_after=1000) as c:
            await asyncio.gather(*(c.complete(body(seed=i)) for i in range(8)))
            return c

    client = run(throttled())
    assert 1 <= client.limiter.limit < 4


def _schema_modes(fake) -> list[str]:
    out = []
    for r in fake.chat_requests:
        rf = r.body.get("response_format") or {}
        out.append("json_schema" if rf.get("type") == "json_schema" else
                   "json_object_schema" if "schema" in rf else rf.get("type", "none"))
    return out


def test_falls_back_to_json_object_with_schema_and_remembers():
    with FakeOpenAI(modes=frozenset({"json_object_schema"})) as fake:
        async def go():
            async with ChatClient(fake.base_url, SECRET, policy=FAST) as c:
                return [await c.complete(body(seed=i)) for i in range(3)], c.mode

        answers, mode = run(go())
        assert _schema_modes(fake) == ["json_schema", "json_object_schema", "json_object_schema", "json_object_schema"]
        assert mode == "json_object_schema" and all(a.mode == mode for a in answers)
        assert list(salvage(answers[0].content, IDS, row_model(FIELDS)).rows) == IDS


def test_falls_back_to_plain_json_mode_with_the_schema_in_the_prompt():
    with FakeOpenAI(modes=frozenset({"json_object"})) as fake:
        answer = run(one(fake))
        assert _schema_modes(fake) == ["json_schema", "json_object_schema", "json_object"]
        last = fake.chat_requests[-1].body
        assert last["messages"][0]["role"] == "system" and '"rows"' in last["messages"][0]["content"]
        assert last["messages"][0]["content"].startswith("You write reviews.")
        assert answer.mode == "json_object"
        assert list(salvage(answer.content, IDS, row_model(FIELDS)).rows) == IDS


def test_a_server_error_without_a_schema_request_is_no_fallback(fake):
    b = {k: v for k, v in body().items() if k != "response_format"}
    fake.push(Fault("status", status=500))
    run(one(fake, b))
    assert _schema_modes(fake) == ["none", "none"]


def test_apply_mode_leaves_the_asked_body_alone():
    b = body()
    before = json.dumps(b, sort_keys=True)
    apply_mode(b, "json_object")
    assert json.dumps(b, sort_keys=True) == before
    assert apply_mode(b, "json_object_schema")["response_format"] == {
        "type": "json_object", "schema": b["response_format"]["json_schema"]["schema"]}


def test_cache_in_front_makes_zero_calls_on_a_rebuild(fake, tmp_path):
    cache = AnswerCache(tmp_path)

    async def build():
        async with ChatClient(fake.base_url, SECRET, policy=FAST) as c:
            return [await fetch(c, cache, body(seed=i)) for i in range(3)]

    first = run(build())
    assert fake.calls == 3 and [hit for _, hit in first] == [False] * 3
    again = run(build())  # a new client, as a new process would have
    assert fake.calls == 3 and [hit for _, hit in again] == [True] * 3
    assert [a for a, _ in again] == [a for a, _ in first]
    for path in tmp_path.rglob("*.json"):
        assert SECRET not in path.read_text()


def test_answers_are_stored_as_they_arrive(fake, tmp_path):
    # The second call fails for good: the first call's answer must already be on disk.
    cache = AnswerCache(tmp_path)
    fake.push(Fault("status", status=200), *[server_error(400)])

    async def build():
        async with ChatClient(fake.base_url, SECRET, policy=FAST) as c:
            await fetch(c, cache, body(seed=1))
            await fetch(c, cache, body(seed=2))

    with pytest.raises(CallError):
        run(build())
    assert cache.stats().entries == 1


@pytest.mark.parametrize("fault,kept", [(truncated(0.6), None), (bad_rows(1), IDS[1:]), (wrong_count(-1), IDS[:2]),
                                        (wrong_count(+1), IDS), (empty(), [])],
                         ids=["truncated", "bad_rows", "short", "long", "empty"])
def test_faulty_answers_keep_their_good_rows(fake, fault, kept):
    fake.push(fault)
    answer = run(one(fake))
    got = salvage(answer.content, IDS, row_model(FIELDS))
    if kept is None:  # truncated: exactly the rows whose text ended before the cut
        assert answer.finish_reason == "length" and not got.complete
        whole = json.loads(fake.answer(fake.chat_requests[0].body)[2]["choices"][0]["message"]["content"])
        full = json.dumps(whole)
        kept = [IDS[r["row"] - 1] for r in whole["rows"]
                if full.index(json.dumps(r)) + len(json.dumps(r)) <= len(answer.content)]
        assert 0 < len(kept) < len(IDS)
    assert list(got.rows) == kept
    assert got.missing == [i for i in IDS if i not in kept]
    if fault.kind in ("bad_rows", "wrong_count") and fault.delta != -1:
        assert len(got.rejected) == 1


def test_the_api_key_never_leaks(fake, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    fake.push(echo_auth(401), echo_auth(500), echo_auth(500), echo_auth(500), echo_auth(500),
              rate_limit(0.01), slow(1.0), server_error(500))
    errors: list[BaseException] = []

    async def go():
        async with ChatClient(fake.base_url, SECRET, policy=RetryPolicy(attempts=4, backoff_base=0.001,
                                                                        timeout=0.3)) as c:
            for i in range(3):
                try:
                    await fetch(c, AnswerCache(tmp_path), body(seed=i))
                except CallError as e:
                    errors.append(e)

    run(go())
    assert len(errors) == 2 and errors[0].kind == "auth" and "***" in str(errors[1])
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in fake.chat_requests)  # it was sent
    for e in errors:
        assert SECRET not in str(e) and SECRET not in repr(e.args) and e.__cause__ is None and e.__context__ is None
    assert caplog.records
    for rec in caplog.records:
        assert SECRET not in rec.getMessage() and SECRET not in repr(rec.args)
    for r in fake.chat_requests:
        assert SECRET not in json.dumps(r.body)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text()


def test_a_keyless_endpoint_gets_a_dummy_key(fake, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run(one(fake, api_key=None))
    assert fake.chat_requests[0].headers["authorization"] == "Bearer synthc-no-key"


def test_endpoint_and_key_come_from_the_environment(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")

    async def go():
        async with ChatClient(policy=FAST) as c:
            return await c.complete(body())

    run(go())
    assert fake.chat_requests[0].headers["authorization"] == "Bearer sk-from-env"


def _review_spec() -> ir.Spec:
    """A spec with one prompt over every output type (dates bounded wider than the fake draws them)."""
    def gen(name, **kw):
        return ir.Field(name=name, role="generated", type=ir.Type(**kw), prompt="review")

    product = ir.Field(name="product", role="sampled", type=ir.Type(kind="category", values=("laptop", "phone")),
                       categorical=True, dist=ir.Dist(kind="shares", shares=(ir.Share(value="laptop", share=0.5),
                                                                             ir.Share(value="phone", share=0.5))))
    fields = (product, gen("title", kind="text"), gen("rating", kind="int", low=1, high=5),
              gen("mood", kind="enum", values=("happy", "sad")), gen("score", kind="float", low=0, high=1),
              gen("ok", kind="bool"), gen("day", kind="date", low="2000-01-01", high="2099-12-31"),
              gen("tags", kind="list", item=ir.Type(kind="text")),
              gen("who", kind="object", members=(ir.Member(name="name", type=ir.Type(kind="text")),)))
    outputs = tuple(f.name for f in fields[1:])
    prompt = ir.Prompt(name="review", user=ir.Template(text="Review a {product}.", fields=("product",)),
                       inputs=("product",), outputs=outputs)
    return ir.Spec(dataset=ir.Dataset(name="d", rows=10, seed=1, model="gpt-4o-mini", formats=("jsonl",)),
                   fields=fields, prompts=(prompt,))


def test_the_planners_requests_come_back_as_valid_rows(fake):
    spec = _review_spec()
    prompt = spec.prompts[0]
    rows = [{"id": f"5a5a5a5a-{i:06d}", "product": p} for i, p in enumerate(["laptop", "phone", "laptop"])]
    b = {"model": "fake-model", "messages": messages(spec, prompt, rows), "seed": 3,
         "response_format": response_format(schema_name(prompt), output_schema(spec, prompt, len(rows)))}
    answer = run(one(fake, b))
    got = salvage(answer.content, [r["id"] for r in rows], row_model([spec.field(n) for n in prompt.outputs]))
    assert got.rejected == [] and list(got.rows) == [r["id"] for r in rows]


def test_grammar_safe_patterns_only_for_llama_mode():
    schema = {"type": "object", "properties": {"d": {"type": "string", "pattern": r"^\d{4}-[\d]{2}\s\w\.$"}}}
    b = {"model": "m", "messages": [], "response_format": response_format("x", schema)}
    sent = apply_mode(b, "json_object_schema")["response_format"]["schema"]["properties"]["d"]["pattern"]
    assert sent == r"^[0-9]{4}-[0-9]{2}[ \t\n\r][A-Za-z0-9_]\.$"
    assert apply_mode(b, "json_schema")["response_format"]["json_schema"]["schema"] == schema  # OpenAI reads \d


def test_a_connection_error_asks_for_a_revival():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    calls = []

    def revive():
        calls.append(1)
        raise RuntimeError("the server cannot be restarted")

    with pytest.raises(CallError) as e:
        run(one(url, revive=revive))
    assert calls == [1] and e.value.kind == "connection" and "cannot be restarted" in str(e.value)
