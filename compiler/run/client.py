"""One chat completion against an OpenAI-compatible endpoint, with the retries that make a long build survive.

The `openai` package's own retries are off (max_retries=0) so that these are the only ones:
408/409/429/5xx, timeouts and connection errors are retried with jittered exponential backoff, waiting at
least as long as a `Retry-After` header asks. Concurrency is bounded and adaptive (limiter.AdaptiveLimiter).
A server that rejects `response_format` type `json_schema` gets `{"type": "json_object", "schema": ...}`
(what llama.cpp's server takes), then plain JSON mode with the schema in the system message; the mode that
worked is kept for the client's later calls. No message or log record ever holds the API key.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from .cache import endpoint_identity
from .limiter import AdaptiveLimiter

log = logging.getLogger("synthc.run")

if TYPE_CHECKING:
    import openai

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "synthc-no-key"  # what keyless local servers (llama.cpp, vLLM, Ollama) are sent
MODES = ("json_schema", "json_object_schema", "json_object")
RETRY_STATUS = frozenset({408, 409, 429})
# Statuses with which servers refuse a response_format they do not support (llama.cpp answers 500).
_SCHEMA_REFUSAL_STATUS = frozenset({400, 422, 500})
_SCHEMA_WORDS = ("response_format", "json_schema", "schema")


@dataclass(frozen=True)
class Answer:
    """What one call returned. mode: the response_format mode that produced it (see MODES)."""

    content: str
    finish_reason: Optional[str]
    prompt_tokens: int
    completion_tokens: int
    model: Optional[str] = None
    mode: str = "json_schema"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "Answer":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass(frozen=True)
class RetryNotice:
    """A failed attempt that will be retried: what failed, attempt n of m, and the wait before the next."""

    endpoint: str
    failure: str
    attempt: int
    attempts: int
    wait: float

    def __str__(self) -> str:
        return (f"{self.endpoint}: {self.failure.rstrip('.')} (attempt {self.attempt} of {self.attempts}); "
                f"retrying in {self.wait:.1f} s")


@dataclass(frozen=True)
class RetryPolicy:
    """attempts: tries per call in all. Backoff before retry n (0-based) is drawn from [d/2, d] with
    d = min(backoff_cap, backoff_base * 2**n); a Retry-After header raises it (up to max_retry_after).
    timeout: seconds for one attempt, end to end."""

    attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    timeout: float = 120.0
    max_retry_after: float = 300.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        d = min(self.backoff_cap, self.backoff_base * (2 ** retry))
        return d / 2 + rng.uniform(0, d / 2)


class CallError(Exception):
    """A call that failed for good. kind: status | timeout | connection | auth | refused."""

    def __init__(self, message: str, *, kind: str, status: Optional[int] = None, attempts: int = 1):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.attempts = attempts


def resolve_endpoint(base_url: Optional[str] = None, api_key: Optional[str] = None) -> tuple[str, str]:
    """(base_url, api_key) from the arguments, else OPENAI_BASE_URL / OPENAI_API_KEY, else OpenAI and a dummy key."""
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    key = api_key or os.environ.get("OPENAI_API_KEY") or NO_KEY
    return url, key


class ChatClient:
    """Chat completions against one endpoint. Use as `async with ChatClient(...) as c: await c.complete(body)`.

    body: the request (model, messages, response_format, temperature, max_tokens, seed, ...), no secrets.
    mode: the response_format mode to start from (the embedded server starts at "json_object_schema").
    rng: the jitter's random source (seed it for repeatable tests).
    revive: called (in a thread) before retrying a connection error; the embedded server restarts itself there.
    identity: how cache keys name this endpoint (default: its base URL without credentials); the embedded
    server's is "embedded", since its port changes every run.
    """

    def __init__(self, base_url: Optional[str] = None, api_key: Optional[str] = None, *, concurrency: int = 4,
                 policy: RetryPolicy = RetryPolicy(), rng: Optional[random.Random] = None, mode: str = "json_schema",
                 grow_after: int = 10, revive: Optional[Callable[[], None]] = None, identity: Optional[str] = None,
                 on_retry: Optional[Callable[["RetryNotice"], None]] = None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.base_url, key = resolve_endpoint(base_url, api_key)
        self.endpoint = identity or endpoint_identity(self.base_url)
        self._secret = key
        self.policy = policy
        self.rng = rng or random.Random()
        self.mode = mode
        self.limiter = AdaptiveLimiter(concurrency, grow_after=grow_after)
        self.revive = revive
        self.on_retry = on_retry
        self.attempts = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        import openai  # here, not at the top: `synthc plan` and `check` never call, and it costs a second to load

        self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=policy.timeout)

    async def __aenter__(self) -> "ChatClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    def scrub(self, text: str) -> str:
        """`text` with the API key cut out (servers have been known to echo it back)."""
        if self._secret and self._secret != NO_KEY and len(self._secret) >= 4:
            text = text.replace(self._secret, "***")
        return text

    async def complete(self, body: Mapping[str, Any]) -> Answer:
        """One completion, retried as the policy allows; raises CallError when it fails for good."""
        import openai  # loaded by __init__ already

        retry = 0
        while True:
            mode = self.mode
            request = apply_mode(body, mode)
            async with self.limiter.slot() as epoch:
                self.attempts += 1
                try:
                    async with asyncio.timeout(self.policy.timeout):
                        completion = await self._client.chat.completions.create(
                            model=request["model"], messages=request["messages"],
                            extra_body={k: v for k, v in request.items() if k not in ("model", "messages")})
                except openai.APIStatusError as e:
                    failure = self._status_failure(e, mode, body)
                except (openai.APITimeoutError, TimeoutError):
                    failure = _Failure("timeout", None, f"no answer within {self.policy.timeout:g} s", retryable=True)
                except openai.APIConnectionError as e:
                    failure = _Failure("connection", None, self.scrub(str(e) or "connection error"), retryable=True)
                else:
                    self.limiter.success()
                    return self._answer(completion, mode)
                if failure.status == 429:
                    self.limiter.throttle(epoch)
            if failure.kind == "refused" and failure.next_mode:
                log.info("%s: the server refused response_format mode %s; trying %s", self.endpoint, mode,
                         failure.next_mode)
                if self.mode == mode:
                    self.mode = failure.next_mode
                continue
            if not failure.retryable or retry + 1 >= self.policy.attempts:
                tries = f" after {retry + 1} attempts" if retry else ""
                raise CallError(f"{self.endpoint}: {failure.message}{tries}", kind=failure.kind,
                                status=failure.status, attempts=retry + 1) from None
            if failure.kind == "connection" and self.revive is not None:
                revive_error = None
                try:
                    await asyncio.to_thread(self.revive)
                except Exception as e:  # raised outside this block so the error carries no context
                    revive_error = self.scrub(str(e))
                if revive_error is not None:
                    raise CallError(f"{self.endpoint}: {revive_error}", kind="connection", attempts=retry + 1)
            wait = self.policy.backoff(retry, self.rng)
            if failure.retry_after is not None:
                wait = max(wait, min(failure.retry_after, self.policy.max_retry_after))
            log.info("%s: %s; retry %d in %.2f s", self.endpoint, failure.message, retry + 1, wait)
            if self.on_retry is not None:
                self.on_retry(RetryNotice(self.endpoint, failure.message, retry + 1, self.policy.attempts, wait))
            await asyncio.sleep(wait)
            retry += 1

    def _answer(self, completion: Any, mode: str) -> Answer:
        choice = completion.choices[0] if completion.choices else None
        usage = completion.usage
        answer = Answer(
            content=(choice.message.content if choice and choice.message else None) or "",
            finish_reason=choice.finish_reason if choice else None,
            prompt_tokens=(usage.prompt_tokens if usage else 0) or 0,
            completion_tokens=(usage.completion_tokens if usage else 0) or 0,
            model=completion.model,
            mode=mode,
        )
        self.prompt_tokens += answer.prompt_tokens
        self.completion_tokens += answer.completion_tokens
        return answer

    def _status_failure(self, e: openai.APIStatusError, mode: str, body: Mapping) -> "_Failure":
        status = e.status_code
        detail = self.scrub(_detail(e))
        if status in _SCHEMA_REFUSAL_STATUS and _wants_schema(body) and _mentions_schema(detail):
            i = MODES.index(mode)
            if i + 1 < len(MODES):
                return _Failure("refused", status, f"HTTP {status}: {detail}", next_mode=MODES[i + 1])
        if status in (401, 403):
            return _Failure("auth", status, f"HTTP {status}: the endpoint refused the credentials ({detail}); "
                                            "check OPENAI_API_KEY or the profile's key")
        retryable = status in RETRY_STATUS or status >= 500
        return _Failure("status", status, f"HTTP {status}: {detail}", retryable=retryable,
                        retry_after=retry_after(e.response.headers) if status in (429, 503) else None)


@dataclass
class _Failure:
    kind: str
    status: Optional[int]
    message: str
    retryable: bool = False
    retry_after: Optional[float] = None
    next_mode: Optional[str] = None


def apply_mode(body: Mapping[str, Any], mode: str) -> dict:
    """The request to send in `mode`: a json_schema response_format rewritten for servers without it."""
    request = dict(body)
    schema = _schema_of(body)
    if schema is None or mode == "json_schema":
        return request
    if mode == "json_object_schema":
        request["response_format"] = {"type": "json_object", "schema": grammar_safe(schema)}
        return request
    request["response_format"] = {"type": "json_object"}
    note = "Answer with one JSON object that follows this JSON schema:\n" + json.dumps(schema, ensure_ascii=False)
    messages = [dict(m) for m in body["messages"]]
    if messages and messages[0].get("role") == "system" and isinstance(messages[0].get("content"), str):
        messages[0]["content"] = messages[0]["content"] + "\n\n" + note
    else:
        messages.insert(0, {"role": "system", "content": note})
    request["messages"] = messages
    return request


_CLASS_ESCAPES = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \\t\\n\\r"}


def grammar_safe(schema: Any) -> Any:
    """`schema` with regex class escapes (\\d \\w \\s) in `pattern` spelled as bracket classes: llama-cpp-python
    0.3.36 cannot parse them in its grammar and its server dies (SIGSEGV, measured with `^\\d{4}-\\d{2}-\\d{2}$`)."""
    if isinstance(schema, Mapping):
        return {k: _bracket_escapes(v) if k == "pattern" and isinstance(v, str) else grammar_safe(v)
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [grammar_safe(v) for v in schema]
    return schema


def _bracket_escapes(pattern: str) -> str:
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            if n in _CLASS_ESCAPES:
                out.append(_CLASS_ESCAPES[n] if in_class else f"[{_CLASS_ESCAPES[n]}]")
            else:
                out.append(c + n)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def _schema_of(body: Mapping[str, Any]) -> Optional[dict]:
    rf = body.get("response_format")
    if isinstance(rf, Mapping) and rf.get("type") == "json_schema":
        js = rf.get("json_schema") or {}
        return js.get("schema") if isinstance(js, Mapping) else None
    return None


def _wants_schema(body: Mapping[str, Any]) -> bool:
    return _schema_of(body) is not None


def _mentions_schema(detail: str) -> bool:
    low = detail.lower()
    return any(w in low for w in _SCHEMA_WORDS)


def _detail(e: openai.APIStatusError) -> str:
    """A short, single-line account of the server's error body."""
    body = e.body
    if isinstance(body, Mapping):
        err = body.get("error", body)
        text = err.get("message") if isinstance(err, Mapping) and err.get("message") else json.dumps(body)
    elif body is not None:
        text = str(body)
    else:
        text = e.message
    text = " ".join(str(text).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def retry_after(headers: Mapping[str, str]) -> Optional[float]:
    """Seconds a response asks to wait: `retry-after-ms`, `retry-after` in seconds or as an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
