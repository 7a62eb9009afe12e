"""A spec as it was at a git revision, read with git and written to a temporary folder: the working tree, the
index and HEAD are never touched (only `git rev-parse` and `git cat-file` run).

What is copied: the spec, every project file it imports (followed recursively at that revision), the file its
`reference` reads (so a changed data file shows as a change), its lock
(`SPEC.lock`: the acceptance its plan was sized with) and each `synthc.toml` from the spec's folder up to the
repository's top (model profiles). A `.git` folder marks the top, so imports resolve against the same project
root as in the working tree. Standard modules come from the installed synthc.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional

# `from "./common.sds" import x`: a superset is harmless (a comment that looks like an import copies a file more)
_FILE_IMPORT = re.compile(r'\bfrom\s+"((?:[^"\\\n]|\\.)*)"\s+import\b')
# `reference real from "data/rows.jsonl" {`: the spec's data file, copied as it was (a changed file is a change)
_REFERENCE = re.compile(r'\breference\s+[A-Za-z_][A-Za-z0-9_]*\s+from\s+"((?:[^"\\\n]|\\.)*)"')


class DiffError(Exception):
    """A usage error the CLI reports in one line and exits 2 on: not a git repository, unknown revision,
    a build folder without its dataset."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True)
    except FileNotFoundError:
        raise DiffError("git is not installed (needed for --base)") from None


def repo_top(path: Path) -> Path:
    """The top of the git work tree holding `path` (a file or folder, which need not exist)."""
    here = path if path.is_dir() else path.parent
    while not here.exists() and here != here.parent:
        here = here.parent
    p = _git(["rev-parse", "--show-toplevel"], here)
    if p.returncode != 0:
        raise DiffError(f"{path} is not inside a git repository (--base compares with a git revision)")
    return Path(p.stdout.decode().strip()).resolve()


def resolve_commit(top: Path, rev: str) -> str:
    if rev.startswith("-"):
        raise DiffError(f"unknown revision `{rev}`")
    p = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], top)
    if p.returncode != 0:
        raise DiffError(f"unknown revision `{rev}` (in a CI checkout, fetch the history: actions/checkout with "
                        f"fetch-depth: 0, or `git fetch origin {rev.split('/', 1)[-1]}`)")
    return p.stdout.decode().strip()


def blob(top: Path, commit: str, rel: str) -> Optional[bytes]:
    """The file `rel` (a path from the repository's top) at `commit`; None when it is not a file there."""
    p = _git(["cat-file", "-t", f"{commit}:{rel}"], top)
    if p.returncode != 0 or p.stdout.strip() != b"blob":
        return None
    p = _git(["cat-file", "blob", f"{commit}:{rel}"], top)
    return p.stdout if p.returncode == 0 else None


@dataclass
class Snapshot:
    """The files of one revision in `root` (a temporary folder: call `cleanup()`). spec: the spec's copy, None
    when the spec does not exist at that revision."""

    root: Path
    commit: str
    rel: str
    spec: Optional[Path]

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def materialise(spec_path: Path, rev: str) -> Snapshot:
    """Copy the spec at `rev`, with what it needs, into a new temporary folder."""
    top = repo_top(spec_path.absolute())
    commit = resolve_commit(top, rev)
    try:
        rel = spec_path.absolute().resolve().relative_to(top).as_posix()
    except ValueError:
        raise DiffError(f"{spec_path} is outside the git repository at {top}") from None
    root = Path(tempfile.mkdtemp(prefix="synthc-diff-"))
    try:
        (root / ".git").mkdir()  # the project root marker that check.modules.project_root looks for
        exists = _copy_with_imports(top, commit, rel, root)
        for extra in [rel + ".lock"] + _toml_candidates(rel):
            data = blob(top, commit, extra)
            if data is not None:
                _write(root, extra, data)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Snapshot(root, commit, rel, root / rel if exists else None)


def _toml_candidates(rel: str) -> list[str]:
    out = []
    d = PurePosixPath(rel).parent
    while True:
        out.append((d / "synthc.toml").as_posix() if str(d) != "." else "synthc.toml")
        if str(d) in (".", ""):
            return out
        d = d.parent


def _write(root: Path, rel: str, data: bytes) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _copy_with_imports(top: Path, commit: str, rel: str, root: Path) -> bool:
    """Copy `rel` and every project file it imports, transitively; False when `rel` itself is missing."""
    seen: set[str] = set()
    queue = [rel]
    found_root = False
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        data = blob(top, commit, path)
        if data is None:
            continue  # a missing import: the checker reports it as it would have at that revision
        found_root |= path == rel
        _write(root, path, data)
        text = data.decode("utf-8", errors="replace")
        for m in _FILE_IMPORT.finditer(text):
            target = _inside(path, m.group(1))
            if target is not None:
                queue.append(target)
        for m in _REFERENCE.finditer(text) if path == rel else ():
            target = _inside(path, m.group(1))
            data = blob(top, commit, target) if target is not None else None
            if data is not None:  # a missing file: the checker reports it (SDS080)
                _write(root, target, data)
    return found_root


def _inside(path: str, named: str) -> str | None:
    """The repository path a file names relative to `path`; None when it leaves the repository (the checker
    says so)."""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(path), named))
    if target.startswith("../") or target == ".." or posixpath.isabs(target):
        return None
    return target
