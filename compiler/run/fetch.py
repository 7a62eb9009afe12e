"""The cache in front of the client: a cached answer makes no call; a new one is stored the moment it arrives."""

from __future__ import annotations

from typing import Any, Mapping

from .cache import AnswerCache, canonical_request, request_key
from .client import Answer, ChatClient


async def fetch(client: ChatClient, cache: AnswerCache, body: Mapping[str, Any]) -> tuple[Answer, bool]:
    """(answer, from_cache). The key is the request as asked (before any response_format fallback), so a
    rebuild hits whatever mode the endpoint ended up needing."""
    key = request_key(client.endpoint, body)
    stored = cache.get(key)
    if stored is not None:
        try:
            return Answer.from_dict(stored), True
        except TypeError:  # an entry from an incompatible version: ask again
            pass
    answer = await client.complete(body)
    cache.put(key, canonical_request(client.endpoint, body), answer.to_dict())
    return answer, False
