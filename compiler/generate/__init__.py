"""The one round engine: a plan's rows asked for, answered, judged and topped up, round after round.

Answers come from an injected source (source.py): the client through the cache for a build, the cache alone for
a prediction (`synthc plan`, `diff`, `plan --emit-batch`, `ingest`), so "what would happen" and "make it
happen" are one piece of code.

engine     rounds and stages: rows asked, answers taken, row constraints judged, unique(...) repaired
source     where answers come from: ClientSource (calls through the cache) and CacheSource (predictions)
guard      the call guard: budget, the default ceiling, the endpoint and yield breakers, Stopped
repair     unique(...) over generated text, repaired by rejecting repeats
tally      counters of calls, tokens and cost; acceptance per stratum
accept     row constraints in one DuckDB query per batch; rejections per constraint with examples
select     the final rows: per stratum the first `quota` accepted by row index, with `_id`
predict    round 1 through the engine with the cache as its source: calls, cached or new, and their cost
diagnosis  why a build stopped: rejections per reason, examples, advice
progress   rich bars on a terminal, plain lines otherwise
"""
