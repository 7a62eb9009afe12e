"""The hostile inputs of issue 11 (hangs and memory), each as one `synthc` process: CPU (user + system, from
os.wait4) and peak RSS, next to `synthc --version` and `synthc check` of a minimal spec measured in the same
run (the cost every command pays before its work). Then a build's time and peak RSS before its first call
against the loopback fake, by rows, with `--max-calls 1`.

    .venv/bin/python bench/limits_bench.py [--write]

--write replaces the "Limits" section of bench/RESULTS.md with the tables.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fake_openai import FakeOpenAI  # noqa: E402


def _doubling(kind: str, depth: int) -> str:
    if kind == "fragment":
        lines = ["dataset d { rows = 10 }", 'fragment f0 = "ab"']
        lines += [f"fragment f{i} = f{i - 1} + f{i - 1}" for i in range(1, depth + 1)]
        return "\n".join(lines + ["field body: text from p", f"prompt p {{ user = f{depth} }}"]) + "\n"
    lines = ["dataset d { rows = 10 }", "def d0(x) = x > 1"]
    lines += [f"def d{i}(x) = d{i - 1}(x) and d{i - 1}(x)" for i in range(1, depth + 1)]
    return "\n".join(lines + ["field a: int in 1..5", f"constraint c: d{depth}(a)"]) + "\n"


def _joint(n: int) -> str:
    k = int(n**0.5)
    while n % k:
        k -= 1
    a, b = k, n // k
    cells = "\n".join(f'("{i}","{j}"):1/{n}' for i in range(a) for j in range(b))
    return (f"dataset d {{ rows = 100 }}\nfield a: category [{', '.join(f'{chr(34)}{i}{chr(34)}' for i in range(a))}]\n"
            f"field b: category [{', '.join(f'{chr(34)}{j}{chr(34)}' for j in range(b))}]\njoint a, b {{\n{cells}\n}}\n")


def _numeric(field: str, rows: int = 10) -> str:
    return (f"dataset d {{ rows = {rows} }}\n{field}\nfield body: text from p\n"
            'prompt p { user = "About {n}." }\n')


EMIT = ["--emit-batch", "calls.jsonl"]
CASES = [
    ("int in -99999999999999999999999..99999999999999999999999, plan --emit-batch",
     _numeric("field n: int in -99999999999999999999999..99999999999999999999999"), ["plan", *EMIT]),
    ("int in -2^63..2^63-1 (the widest allowed), 1,000 rows, plan --emit-batch",
     _numeric("field n: int in -9223372036854775808..9223372036854775807", 1000), ["plan", *EMIT]),
    ("poisson(lambda = 1e300), plan --emit-batch",
     _numeric("field n: int in 0..100000000 ~ poisson(lambda = 1e300)"), ["plan", *EMIT]),
    ("poisson(lambda = 1000000) on 0..2^63-1, 1,000 rows, plan --emit-batch",
     _numeric("field n: int in 0..9223372036854775807 ~ poisson(lambda = 1000000)", 1000), ["plan", *EMIT]),
    ("64 doubling fragments, check", _doubling("fragment", 64), ["check"]),
    ("24 doubling fragments, plan", _doubling("fragment", 24), ["plan"]),
    ("16 doubling defs, check", _doubling("def", 16), ["check"]),
    ("39 doubling defs, check", _doubling("def", 39), ["check"]),
    ("rows = 1000000000, build against the fake", _numeric("field n: int in 1..5", 10**9), ["build", "FAKE"]),
    ("/dev/zero, check", None, ["check", "/dev/zero"]),
    ("joint table of 5,000 cells (the most allowed), check", _joint(5000), ["check"]),
    ("joint table of 5,041 cells, check", _joint(5041), ["check"]),
]


def run(argv: list[str], cwd: Path, env: dict) -> tuple[int, float, float]:
    """(exit code, CPU seconds, peak RSS MiB) of one synthc process."""
    proc = subprocess.Popen([sys.executable, "-m", "synthc", *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def hostile_table(tmp: Path, env: dict, fake: FakeOpenAI) -> list[str]:
    (tmp / "synthc.toml").write_text("")
    (tmp / "minimal.sds").write_text("dataset d { rows = 10 }\nfield a: bool\n")
    base = min(run(["--version"], tmp, env)[1] for _ in range(3))
    minimal = min(run(["check", "minimal.sds"], tmp, env)[1] for _ in range(3))
    out = ["| input | command exit | CPU (s) | CPU / `check` of a minimal spec | peak RSS (MiB) |",
           "|---|---:|---:|---:|---:|",
           f"| `synthc --version` | 0 | {base:.2f} | {base / minimal:.2f} | |",
           f"| minimal spec, check | 0 | {minimal:.2f} | 1.00 | |"]
    for label, text, argv in CASES:
        if text is not None:
            (tmp / "spec.sds").write_text(text)
            argv = [argv[0], "spec.sds", *argv[1:]]
        if "FAKE" in argv:
            argv = ["build", "spec.sds", "--endpoint", fake.base_url, "--model", "gpt-4o-mini", "--out", "out"]
        calls = fake.calls
        rc, cpu, rss = run(argv, tmp, env)
        note = f", {fake.calls - calls} calls" if argv[0] == "build" else ""
        out.append(f"| {label}{note} | {rc} | {cpu:.2f} | {cpu / minimal:.2f} | {rss:.0f} |")
        print(out[-1], flush=True)
    return out


def first_call_table(tmp: Path, env: dict, fake: FakeOpenAI, rows_list=(10_000, 100_000, 1_000_000)) -> list[str]:
    out = ["| rows | calls planned (round 1) | seconds to the first call | peak RSS (MiB) |", "|---:|---:|---:|---:|"]
    for rows in rows_list:
        (tmp / "b.sds").write_text(_numeric("field n: int in 1..5", rows))
        before = fake.calls
        start = time.monotonic()
        first: list[float] = []

        def watch():
            while not first and time.monotonic() - start < 600:
                if fake.calls > before:
                    first.append(time.monotonic() - start)
                time.sleep(0.01)

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        rc, _, rss = run(["build", "b.sds", "--endpoint", fake.base_url, "--model", "gpt-4o-mini", "--out", "out",
                          "--max-calls", "1"], tmp, env)
        t.join(timeout=1)
        planned = -(-rows // 25)
        out.append(f"| {rows:,} | {planned:,} | {first[0] if first else float('nan'):.1f} | {rss:.0f} |")
        print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, FakeOpenAI() as fake:
        tmp = Path(d)
        env = dict(os.environ, SYNTHC_CACHE=str(tmp / "cache"), OPENAI_API_KEY="sk-bench", SYNTHC_RETRY_BASE="0.001")
        hostile = hostile_table(tmp, env, fake)
        builds = first_call_table(tmp, env, fake)
    if args.write:
        section = ("## Limits\n\n"
                   "The hostile inputs of issue 11, one `synthc` process each: CPU (user + system from os.wait4) and "
                   "peak RSS, on CPython 3.11.7, 2 CPUs shared with other jobs, x86_64. The ratio is to `synthc check` "
                   "of a two-line spec in the same run (imports, grammar build, rendering).\n"
                   "Reproduce: `.venv/bin/python bench/limits_bench.py --write`\n\n" + "\n".join(hostile) +
                   "\n\nA build's time and peak RSS before its first call (`--max-calls 1`, gpt-4o-mini: 25 rows per "
                   "call), against the loopback fake. The executor materialises a round's rows, their state and its "
                   "calls before sending any, so both grow with rows; hence `rows` <= 1,000,000.\n\n" +
                   "\n".join(builds) + "\n")
        path = ROOT / "bench" / "RESULTS.md"
        text = path.read_text(encoding="utf-8")
        if "## Limits\n" in text:
            text = re.sub(r"## Limits\n.*?(?=\n## |\Z)", section.rstrip("\n") + "\n", text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + section
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
