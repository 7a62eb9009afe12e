"""The answer cache: keys hold no secrets, round trips, partial files are misses, gc, stats."""

from __future__ import annotations

import json
import os

import pytest

from synthc.run.cache import (AnswerCache, cache_root, canonical_request, endpoint_identity, request_key)

BODY = {
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}],
    "response_format": {"type": "json_object"},
    "temperature": 0.7,
    "max_tokens": 100,
    "seed": 1,
}
ANSWER = {"content": '{"rows": []}', "finish_reason": "stop", "prompt_tokens": 3, "completion_tokens": 4}


def test_round_trip(tmp_path):
    cache = AnswerCache(tmp_path)
    key = request_key("http://h/v1", BODY)
    assert cache.get(key) is None
    cache.put(key, canonical_request("http://h/v1", BODY), ANSWER)
    assert cache.get(key) == ANSWER
    assert cache.path(key).parent.name == key[:2]


def test_key_depends_on_every_part_of_the_request():
    base = request_key("http://h/v1", BODY)
    for change in ({"model": "n"}, {"seed": 2}, {"temperature": 0.8}, {"max_tokens": 101},
                   {"messages": [{"role": "user", "content": "ho"}]}, {"response_format": {"type": "text"}}):
        assert request_key("http://h/v1", {**BODY, **change}) != base, change
    assert request_key("http://other/v1", BODY) != base


def test_key_ignores_key_order_and_secrets():
    reordered = dict(reversed(list(BODY.items())))
    assert request_key("http://h/v1", reordered) == request_key("http://h/v1", BODY)
    with_secret = {**BODY, "api_key": "sk-SECRET", "extra_headers": {"Authorization": "Bearer sk-SECRET"}}
    assert request_key("http://h/v1", with_secret) == request_key("http://h/v1", BODY)


def test_endpoint_identity_drops_credentials_in_the_url():
    ident = endpoint_identity("https://user:sk-SECRET@Example.com:8443/v1/?api-key=sk-SECRET#x")
    assert ident == "https://example.com:8443/v1"
    assert request_key("https://user:pw@example.com:8443/v1", BODY) == request_key("https://example.com:8443/v1", BODY)


def test_no_secret_reaches_the_disk(tmp_path):
    cache = AnswerCache(tmp_path)
    body = {**BODY, "api_key": "sk-SECRET"}
    key = request_key("https://u:sk-SECRET@h/v1", body)
    cache.put(key, {**canonical_request("https://u:sk-SECRET@h/v1", body), "headers": {"a": "sk-SECRET"}}, ANSWER)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"sk-SECRET" not in path.read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_key", "not_object", "empty"])
def test_damaged_entry_is_a_miss(tmp_path, damage):
    cache = AnswerCache(tmp_path)
    key = request_key("http://h/v1", BODY)
    cache.put(key, {}, ANSWER)
    path = cache.path(key)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 10)
    elif damage == "wrong_key":
        entry = json.loads(data)
        entry["key"] = "0" * 64
        path.write_text(json.dumps(entry))
    elif damage == "not_object":
        path.write_text("[1, 2]")
    else:
        path.write_bytes(b"")
    assert cache.get(key) is None
    cache.put(key, {}, ANSWER)  # and a new answer replaces it
    assert cache.get(key) == ANSWER


def test_every_truncation_of_an_entry_is_a_miss(tmp_path):
    cache = AnswerCache(tmp_path)
    key = request_key("http://h/v1", BODY)
    cache.put(key, {}, ANSWER)
    data = cache.path(key).read_bytes()
    for cut in range(0, len(data) - 1, 7):  # the last byte is a newline: cutting it leaves a whole entry
        cache.path(key).write_bytes(data[:cut])
        assert cache.get(key) is None, cut


def test_a_failed_write_leaves_no_entry_and_no_temp_file(tmp_path, monkeypatch):
    cache = AnswerCache(tmp_path)
    key = request_key("http://h/v1", BODY)

    def boom(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        cache.put(key, {}, ANSWER)
    monkeypatch.undo()
    assert cache.get(key) is None
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_stats_and_gc(tmp_path):
    cache = AnswerCache(tmp_path)
    keys = [request_key("http://h/v1", {**BODY, "seed": i}) for i in range(5)]
    for k in keys:
        cache.put(k, {}, ANSWER)
    (cache.path(keys[0]).parent / ".tmp-leftover").write_bytes(b"partial")  # as a kill -9 mid-write leaves
    stats = cache.stats()
    assert stats.entries == 5
    assert stats.bytes == sum(cache.path(k).stat().st_size for k in keys)
    assert cache.gc(keep=set(keys[:2])) == 3
    assert sorted(cache.keys()) == sorted(keys[:2])
    assert all(cache.get(k) == ANSWER for k in keys[:2])
    assert not list(tmp_path.rglob(".tmp-*"))
    assert cache.stats().entries == 2


def test_stats_of_a_missing_cache(tmp_path):
    cache = AnswerCache(tmp_path / "nowhere")
    assert cache.stats().entries == 0
    assert cache.gc(set()) == 0


def test_cache_root(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNTHC_CACHE", raising=False)
    assert cache_root(tmp_path) == tmp_path / ".synthc"
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "elsewhere"))
    assert cache_root(tmp_path) == tmp_path / "elsewhere"


def test_bad_keys_are_refused(tmp_path):
    with pytest.raises(ValueError):
        AnswerCache(tmp_path).path("../../etc/passwd")
