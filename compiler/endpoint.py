"""Which endpoint a build talks to (docs/BUILD.md "Which endpoint"): flags, then a synthc.toml profile, then
the openai client's environment, then the embedded model. Returns names and sources, never a key."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from .check.modules import project_root
from .profiles import ModelProfile, profile_for
from .run.cache import endpoint_identity
from .run.client import DEFAULT_BASE_URL

EMBEDDED = "embedded"
KEY_ENV = "OPENAI_API_KEY"
# synthc.toml profile keys that size and price calls (ModelProfile fields); the rest say where to connect.
_PROFILE_KEYS = ("max_rows_per_call", "context_tokens", "max_output_tokens", "input_usd_per_mtok",
                 "output_usd_per_mtok", "concurrency")
_CONNECT_KEYS = ("endpoint", "model", "api_key_env")


class EndpointError(Exception):
    """No endpoint can be chosen, or synthc.toml is wrong: a usage error (exit 2)."""


@dataclass(frozen=True)
class Endpoint:
    """base_url: None for the embedded model until its server runs. identity: what cache keys and the lock
    name the endpoint by ("embedded" for the embedded model, whose port changes every run)."""

    base_url: Optional[str]
    model: str
    profile: ModelProfile
    concurrency: int
    embedded: bool
    source: str
    api_key_env: Optional[str] = None

    @property
    def identity(self) -> str:
        return EMBEDDED if self.embedded else endpoint_identity(self.base_url or DEFAULT_BASE_URL)

    def api_key(self) -> Optional[str]:
        """The key from the environment (read when the client is made, never stored elsewhere)."""
        return os.environ.get(self.api_key_env or KEY_ENV) or None


def read_profiles(spec_path: Path) -> dict[str, dict]:
    """`[profiles.*]` of synthc.toml in the spec's project root ({} when there is no such file)."""
    path = project_root(Path(spec_path)) / "synthc.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise EndpointError(f"{path}: {e}") from None
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise EndpointError(f"{path}: [profiles.NAME] tables expected")
    for name, p in profiles.items():
        unknown = sorted(set(p) - set(_PROFILE_KEYS) - set(_CONNECT_KEYS))
        if unknown:
            raise EndpointError(f"{path}: [profiles.{name}]: unknown key{'s' * (len(unknown) > 1)} "
                                f"{', '.join(unknown)}; known: {', '.join(_CONNECT_KEYS + _PROFILE_KEYS)}")
    return profiles


def _profile(name: str, table: dict, model: Optional[str]) -> ModelProfile:
    base = profile_for(name)
    over = {k: table[k] for k in _PROFILE_KEYS if k in table}
    if table.get("endpoint"):
        over["endpoint"] = table["endpoint"]
    if model or table.get("model"):
        over["model"] = model or table["model"]
    try:
        return ModelProfile.model_validate(base.model_dump() | over)
    except ValueError as e:
        raise EndpointError(f"synthc.toml [profiles.{name}]: {e}") from None


def choose(spec_model: str, spec_path: Path, *, endpoint: Optional[str] = None, model: Optional[str] = None,
           concurrency: Optional[int] = None, offline: bool = False) -> Endpoint:
    """The endpoint for a spec whose dataset model is `spec_model`. The plan is sized by the profile of the
    spec's model (a synthc.toml profile of that name overrides the built-in); `--model` only renames the model
    the endpoint is asked for, except for a spec that names no model (the embedded default): then the model
    the user names is the one the plan is sized by, and its endpoint is found as for a spec naming it."""
    named = spec_model
    if spec_model == EMBEDDED and model and model != EMBEDDED:
        named = model
    table = read_profiles(spec_path).get(named, {})
    profile = _profile(named, table, model)
    conc = concurrency or profile.concurrency

    def made(base_url, source, embedded=False, key_env=None):
        if base_url is not None:
            check_url(base_url, source)
        return Endpoint(base_url, profile.model, profile, max(1, conc), embedded, source, key_env)

    if endpoint:
        return made(endpoint, "--endpoint", key_env=table.get("api_key_env"))
    if table.get("endpoint"):
        return made(table["endpoint"], f"synthc.toml [profiles.{named}]", key_env=table.get("api_key_env"))
    if named != EMBEDDED and (os.environ.get("OPENAI_BASE_URL") or os.environ.get(KEY_ENV) or offline):
        # offline needs no key: only the endpoint's name, for the cache keys
        return made(os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL, "environment")
    if named == EMBEDDED:
        return made(None, "embedded", embedded=True)
    raise EndpointError(
        f"no endpoint for model {named!r}: pass --endpoint URL, set OPENAI_BASE_URL and OPENAI_API_KEY, "
        f"or add [profiles.{named}] with an endpoint to synthc.toml")


def check_url(url: str, source: str) -> None:
    """An endpoint is an http(s) URL with a host: anything else fails at once (EndpointError, exit 2), not after
    a minute of retries."""
    parsed = urlsplit(url.strip())
    if parsed.scheme not in ("http", "https"):
        raise EndpointError(f"{source}: {url!r} is not an http:// or https:// URL (an OpenAI-compatible base URL "
                            "such as https://api.openai.com/v1)")
    try:
        host, _ = parsed.hostname, parsed.port  # .port raises on a port that is not a number or out of range
    except ValueError as e:
        raise EndpointError(f"{source}: {url!r}: {e}") from None
    if not host:
        raise EndpointError(f"{source}: {url!r} names no host (e.g. http://localhost:8000/v1)")
