"""Shared pytest options and fixtures."""

import pytest

from fake_openai import FakeOpenAI


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the golden files of specs/ from the current compiler output")


@pytest.fixture
def fake():
    """The loopback fake OpenAI server, answering as our prompts expect (a test module may define its own)."""
    with FakeOpenAI() as f:
        yield f
