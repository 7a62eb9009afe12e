"""emit: what a build leaves behind. outputs (the dataset: canonical JSONL, Parquet and CSV through DuckDB),
report (report.json and report.md), lock (SPEC.lock). Every file is written atomically (temp file, fsync,
rename), so a killed build leaves the previous file or the new one, never half of one."""
