"""`synthc build`: runs a plan's calls, keeps every answer, turns answers into rows, accepts rows against the
row constraints in DuckDB, tops up what fell short, and writes the dataset, its report and the lock.

endpoint   which endpoint and model (flags > synthc.toml profile > environment > embedded)
executor   rounds of calls through the cache, salvage, per-row acceptance, budgets, the failure breaker
accept     row constraints in one DuckDB query per batch; rejections per constraint with examples
select     the final rows: per stratum the first `quota` accepted by row index, with `_id`
pipeline   lock -> endpoint -> plan -> executor -> rows -> checks -> outputs (BuildOptions, BuildResult)
ingest     OpenAI Batch API output into the cache
cachecmd   `cache stats` / `cache gc`
progress   rich bars on a terminal, plain lines otherwise
"""
