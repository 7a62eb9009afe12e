"""The light install (README, "A light install"): without the `embedded` extra, a build that would need the
embedded model says in one line how to get it or name an endpoint (exit 2, nothing sent); `plan` still works.

llama-cpp-python is hidden at the import boundary: a child Python whose `sys.modules` maps `llama_cpp` to None,
which is what importlib (find_spec, import) sees when the package is not installed."""

from __future__ import annotations

import subprocess
import sys

from project_env import embedded_env

SPEC = """dataset tiny {
  rows = 4
  seed = 1
}

field kind: category ~ { "a": 50%  "b": 50% }
field note: text from write { words = 2..6 }

prompt write {
  user = "Write a note about {kind}."
}
"""

HIDDEN = "import sys; sys.modules['llama_cpp'] = None; from synthc.cli import main; sys.exit(main(sys.argv[1:]))"


def synthc_without_llama(cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", HIDDEN, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_a_build_without_the_embedded_extra_says_how_to_get_it_in_one_line(tmp_path, monkeypatch):
    env = embedded_env(tmp_path, monkeypatch)
    (env / "tiny.sds").write_text(SPEC, encoding="utf-8")
    got = synthc_without_llama(env, "build", "tiny.sds", "--out", "out")
    assert got.returncode == 2, got.stderr
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1, got.stderr
    assert lines[0].startswith("synthc: error: the embedded model is not installed")
    assert "pip install 'synthc[embedded]'" in lines[0] and "--endpoint URL --model NAME" in lines[0]
    assert not (env / "out").exists() and not (env / "cache").exists()  # nothing was written, nothing sent
    # planning needs no model: the same child plans the spec
    planned = synthc_without_llama(env, "plan", "tiny.sds", "--json")
    assert planned.returncode == 0, planned.stderr
    assert '"rows": 4' in planned.stdout


def test_the_child_really_cannot_import_llama_cpp(tmp_path):
    # the simulation above is only worth something if the import fails in that child while it works here
    probe = "import sys; sys.modules['llama_cpp'] = None\ntry:\n import llama_cpp\nexcept ImportError:\n print('hidden')"
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert got.stdout.strip() == "hidden"
    from synthc.run.embedded import available

    assert available()  # the test environment installs the extra (scripts/venv.sh)
