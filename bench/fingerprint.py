"""Behaviour fingerprint of a synthc checkout: builds, rebuilds and predictions of two specs against the loopback
fake, printed as hashes (outputs, the lock's answers, request bodies, plan JSON, emitted batch). Run it before
and after a refactor and diff the two outputs: `python bench/fingerprint.py REPO > before.txt`."""
import hashlib, json, os, re, shutil, sys, tempfile, io, contextlib
from pathlib import Path
repo = Path(sys.argv[1])
sys.path.insert(0, str(repo / "tests"))
from fake_openai import FakeOpenAI
from synthc.cli import main

def h(b): return hashlib.sha256(b).hexdigest()[:16]
out = {}
def run(argv):
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        code = main(argv)
    return code, o.getvalue(), e.getvalue()

minimal = (repo / "tests/tasks/test_minimal_delta.py").read_text().split('SPEC = """')[1].split('"""')[0]
reviews = (repo / "examples/product_reviews/reviews.sds").read_text()
reviews = "\n".join(l for l in reviews.splitlines() if not l.startswith("constraint long_is_long")) + "\n"
edits = {"minimal": ('"rain": 50%', '"rain": 45%', '"snow": 20%', '"snow": 25%'),
         "reviews": None}
for name, text in (("minimal", minimal), ("reviews", reviews)):
    d = Path(tempfile.mkdtemp())
    os.environ.update(SYNTHC_CACHE=str(d / "cache"), SYNTHC_RETRY_BASE="0.001", OPENAI_API_KEY="sk-x")
    (d / "synthc.toml").write_text("")
    spec = d / "s.sds"
    spec.write_text(text)
    flags = ["--model", "gpt-4o-mini"] if name == "reviews" else []
    with FakeOpenAI() as fake:
        def build(tag):
            n0 = fake.calls
            code, so, se = run(["build", str(spec), "--endpoint", fake.base_url, "--out", str(d / tag), "--concurrency", "4", *flags])
            norm = lambda b: b.replace(fake.base_url.removesuffix("/v1").encode(), b"URL")
            files = {p.name: h(norm(p.read_bytes())) for p in sorted((d / tag).glob("*"))} if (d / tag).exists() else {}
            def lockn():
                L = json.loads(norm((d / "s.sds.lock").read_bytes()))
                L["calls"] = sorted(L["calls"].values())
                return h(json.dumps(L, sort_keys=True).encode())
            lock = lockn() if (d / "s.sds.lock").exists() else None
            bodies = sorted(h(json.dumps(r.body, sort_keys=True).encode()) for r in fake.chat_requests[n0:])
            out[f"{name}/{tag}"] = dict(code=code, calls=fake.calls - n0, files=files, lock=lock, bodies=h("".join(bodies).encode()))
        build("first")
        build("noop")
        code, so, se = run(["plan", str(spec), "--json", "--endpoint", fake.base_url, *flags])
        out[f"{name}/plan"] = h(so.encode())
        if name == "minimal":
            t = text.replace('"rain": 50%', '"rain": 45%').replace('"snow": 20%', '"snow": 25%')
        else:
            t = text.replace('"positive": 40%', '"positive": 35%').replace('"negative": 35%', '"negative": 40%')
            assert t != text
        spec.write_text(t)
        code, so, se = run(["plan", str(spec), "--json", "--endpoint", fake.base_url, *flags, "--emit-batch", str(d / "b.jsonl")])
        out[f"{name}/plan-edit"] = h(so.encode())
        out[f"{name}/batch-edit"] = h((d / "b.jsonl").read_bytes()) if (d / "b.jsonl").exists() else None
        build("edit")
for k, v in out.items():
    print(k, json.dumps(v, sort_keys=True))
