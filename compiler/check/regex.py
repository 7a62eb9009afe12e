"""Regular expressions of `matches(...)`: checked by both readers, Python `re` (the checker's and planner's
evaluator) and DuckDB's RE2 (the judge of every row), so a pattern one of them cannot run, or reads differently,
is an error in `check` and never a failure after the calls were paid for (LANGUAGE.md, "Row functions")."""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import NamedTuple

# Look-arounds and back-references: Python runs them, RE2 refuses them.
_PERL_ONLY = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")


class RegexProblem(NamedTuple):
    code: str
    message: str
    hint: str | None = None


def regex_problem(pattern: str) -> RegexProblem | None:
    """Why `pattern` cannot be a `matches` pattern, or None when Python and DuckDB both run it the same way."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        re.purge()  # a cached pattern is not parsed again, and would not warn again
        try:
            re.compile(pattern)
        except re.error as e:
            return RegexProblem("SDS019", f"invalid regular expression: {e.msg}")
        except (RecursionError, OverflowError, MemoryError):
            return RegexProblem("SDS019", "invalid regular expression: too complex to compile")
    if _PERL_ONLY.search(pattern):
        return RegexProblem("SDS019", "the pattern uses a look-around or a back-reference, which validation "
                                      "(DuckDB, RE2) cannot run", "rewrite it without (?=, (?!, (?<=, (?<! or \\1")
    future = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    if future:
        # `[[:alpha:]]` is a POSIX class to RE2 but a set containing `[`, `:`, ... to Python; `&&`, `--`, `||`
        # and `~~` inside a set are set operations in some engines and plain characters in others
        return RegexProblem("SDS034", f"the pattern reads differently in Python and DuckDB ({future[0].lower()})",
                            "write a POSIX class as a range (`[a-zA-Z]` for [[:alpha:]]) and escape `[` and doubled "
                            "`&`, `-`, `|`, `~` inside a set with `\\`")
    duck = _duckdb_error(pattern)
    if duck is not None:
        return RegexProblem("SDS034", f"DuckDB, which checks every row, cannot run this pattern: {duck}",
                            "RE2 has no \\Z (use $), no possessive or atomic groups, and repeats of at most "
                            "1000")
    return None


@lru_cache(maxsize=256)
def _duckdb_error(pattern: str) -> str | None:
    try:
        _connection().execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except Exception as e:  # duckdb.InvalidInputException, and whatever else RE2 refuses
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        return text.split("Error: ", 1)[-1]
    return None


@lru_cache(maxsize=1)
def _connection():
    import duckdb

    return duckdb.connect()
