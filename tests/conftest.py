"""Shared pytest options."""


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the golden files of specs/ from the current compiler output")
