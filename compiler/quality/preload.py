"""Loading the measuring modules ahead of use (kept out of the package's __init__, which stays free of them)."""

from __future__ import annotations


def load_measures() -> None:
    """Imports the measuring modules and their libraries (numpy, scipy, datasketch, scikit-learn, which loads
    pandas when it is installed): `synthc build` calls this before its first call, so its repairs, checks and
    report spend no import time after the last answer (about 2 s of CPU), while `import synthc.api`, `synthc plan`
    and `synthc check` still load none of them."""
    from . import checks, diversity, neardup, report, shortcuts, similarity  # noqa: F401

