"""A baseline revision of synthc against the working tree on build_bench.py's synthc part (build, no-op
rebuild, share-edit rebuild), interleaved in one run on one machine.

    git worktree add /tmp/oldsrc REV && mkdir -p /tmp/oldpath && ln -sfn /tmp/oldsrc/compiler /tmp/oldpath/synthc \
      && ln -sfn /tmp/oldsrc/stdlib /tmp/oldsrc/compiler/stdlib
    .venv/bin/python bench/compare_build.py ROWS CONCURRENCY [/tmp/oldpath]

The baseline runs from PYTHONPATH (it shadows the editable install); the new one from the venv.
"""
import json, os, sys, tempfile
from pathlib import Path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE.parent / "tests"))
import build_bench as bb
rows = int(sys.argv[1]); conc = int(sys.argv[2])
OLD = sys.argv[3] if len(sys.argv) > 3 else "/tmp/oldpath"
out = {}
for rep in range(2):
    for name, extra in (("old", OLD), ("new", None)):
        with tempfile.TemporaryDirectory() as tmp, bb.SlowFake() as fake:
            work = Path(tmp)
            env = dict(os.environ, OPENAI_API_KEY="dummy", SYNTHC_CACHE=str(work / "cache"))
            env.pop("OPENAI_BASE_URL", None)
            if extra: env["PYTHONPATH"] = extra
            s = bb.run_synthc(fake, bb.spec_copy(work, rows), work, conc, env)
            r = (s["calls"], round(s["wall"], 2), round(s["noop"], 2), s["edit"]["calls"], round(s["edit"]["wall"], 2))
            out.setdefault(name, []).append(r)
            print(name, "calls, wall, noop, edit calls, edit wall:", r, flush=True)
print(json.dumps(out))
