"""A project folder for end-to-end tests: its own answer cache, fast retries, an API key, no OPENAI_BASE_URL from
the environment, and an empty synthc.toml marking the project root (no profiles). `embedded_env`: the same
folder for a build on the embedded model (no key, no endpoint from the environment, default retries)."""

from __future__ import annotations

from pathlib import Path


def project_env(tmp_path: Path, monkeypatch, key: str = "sk-test", timeout: str | None = None) -> Path:
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SYNTHC_RETRY_BASE", "0.001")
    if timeout is not None:
        monkeypatch.setenv("SYNTHC_TIMEOUT", timeout)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    (tmp_path / "synthc.toml").write_text("")
    return tmp_path


def embedded_env(tmp_path: Path, monkeypatch) -> Path:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SYNTHC_CACHE", str(tmp_path / "cache"))
    (tmp_path / "synthc.toml").write_text("")
    return tmp_path
