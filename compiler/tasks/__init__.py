"""The commands that run the passes, one module each (dbt's task/): the CLI parses and renders, these act.

build   lock -> endpoint -> plan -> generate -> rows -> checks -> outputs (BuildOptions, BuildResult)
ingest  OpenAI Batch API output into the cache, then the build
cache   `cache stats` / `cache gc`
plan    `synthc plan`: the plan as the build would make it, and what this build will spend now
"""
