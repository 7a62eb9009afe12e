"""The index of real texts (quality/realindex.py) on a generated reference column: its build, and the nearest real
text of 10,000 queries (2,000 copies of indexed texts, 2,000 one-word edits, 6,000 texts of common words).

    .venv/bin/python bench/realindex_query.py ROWS WORKDIR

The file is bench/realdata_bench.py's (generated into WORKDIR, never into git).
"""
import sys, time, random, resource
from pathlib import Path
sys.path.insert(0, 'bench')
import realdata_bench as rb
from synthc.quality import realindex
from synthc.quality.overlap import OverlapIndex, copy_words
n = int(sys.argv[1]); work = Path(sys.argv[2]); work.mkdir(parents=True, exist_ok=True)
f = work / "real.jsonl"
if not f.exists():
    rb.generate(f, n)
src = "read_json(?, format = 'newline_delimited', sample_size = -1)"
t = time.process_time(); w = time.time()
ix = realindex.open_or_build(work / "ix", src, [str(f)], "bench", "description", 0.8)
print(f"index of {n:,} texts: {time.time()-w:.1f} s wall, {time.process_time()-t:.1f} s CPU (this process)", flush=True)
import json
rng = random.Random(3)
lines = []
with open(f) as fh:
    for i, line in enumerate(fh):
        if i % (n // 2000) == 0:
            lines.append(json.loads(line)["description"])
queries = []
for q in lines[:2000]:
    ws = q.split(); i = rng.randrange(len(ws))
    queries += [q, " ".join(ws[:i] + ["zz"] + ws[i+1:])]
vocab = [f"w{i}" for i in range(30000)]
queries += [" ".join(rng.choices(vocab[:3000], k=rng.randint(4, 20))) for _ in range(6000)]
t = time.process_time(); w = time.time()
sims, at = ix.nearest(queries)
print(f"nearest of {len(queries):,} queries: {time.time()-w:.1f} s wall, {time.process_time()-t:.2f} s CPU, "
      f"{1e6*(time.process_time()-t)/len(queries):.0f} us CPU per query; >=0.8: {(sims>=0.8).sum()}", flush=True)
print("peak RSS MiB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)
