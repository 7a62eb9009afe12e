"""Every path a command will write, checked before anything is spent (docs/BUILD.md, "Output paths"): a build
that finds out after its calls that `--out` is a file would have paid for answers it cannot write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def directory_problem(d: Path) -> str | None:
    """Why files cannot be written in the directory `d` (created with its parents when missing), or None."""
    try:
        return _directory_problem(Path(d))
    except OSError as e:  # a name too long, a loop of links: what the write would meet
        return f"{d} cannot be written: {e.strerror or e}"


def _directory_problem(d: Path) -> str | None:
    if d.exists():
        if not d.is_dir():
            return f"{d} is a file, not a directory"
        return None if _writable(d) else f"{d} is not writable"
    existing = d
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{d} cannot be created: {existing} is a file, not a directory"
    return None if _writable(existing) else f"{d} cannot be created: {existing} is not writable"


def file_problem(p: Path) -> str | None:
    """Why the file `p` cannot be written (atomically, beside itself), or None."""
    try:
        return _file_problem(Path(p))
    except OSError as e:
        return f"{p} cannot be written: {e.strerror or e}"


def _file_problem(p: Path) -> str | None:
    if len(p.name.encode()) > 255 - 20:  # write_atomic's temp file adds a prefix and a suffix to the name
        return f"{p} cannot be written: its name is too long"
    if p.is_dir():
        return f"{p} is a directory, not a file"
    if p.exists() and not p.is_file():
        return f"{p} is not a regular file"
    problem = directory_problem(p.parent)
    return f"{p} cannot be written: {problem}" if problem else None


def first_problem(directories: Iterable[Path], files: Iterable[Path]) -> str | None:
    for d in directories:
        problem = directory_problem(d)
        if problem is not None:
            return problem
    for f in files:
        problem = file_problem(f)
        if problem is not None:
            return problem
    return None


def _writable(d: Path) -> bool:
    return os.access(d, os.W_OK | os.X_OK)
