"""The sizes synthc accepts, in one place (LANGUAGE.md, "Limits").

Each limit bounds work that would otherwise grow without bound from a short spec, and each is checked from
sizes computed first (byte counts, lengths, node counts), never by building the oversized thing and
measuring it. Past a limit the checker reports a diagnostic with the limit's code at the declaration that
exceeds it.
"""

from __future__ import annotations

# A spec or module file: bytes read, whatever size the file reports (devices and pipes report none). SDS003.
MAX_SOURCE_BYTES = 2_000_000

# `rows`: a build holds a round's rows and calls in memory (about 900 bytes per row: bench/limits_bench.py). SDS090.
MAX_ROWS = 1_000_000

# `int` bounds: values are written as 64-bit integers (DuckDB BIGINT, Parquet INT64). SDS091.
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
# `float` bounds: at most this in magnitude, so that the width of a range is a finite float. SDS091.
MAX_FLOAT_BOUND = 1e300

# A distribution's parameters: poisson's table has about 19 * sqrt(lambda) entries; past this a normal with
# mean lambda and sd sqrt(lambda) is the same shape. Every parameter is a finite number of at most MAX_PARAM
# in magnitude (float arithmetic on the range stays finite). SDS092.
MAX_POISSON_LAMBDA = 1_000_000
MAX_PARAM = 1e15
# lognormal: e^(|mu| + 8 sigma) must be a finite float (e^709 is the largest). SDS092.
MAX_LOGNORMAL_EXPONENT = 700

# A template (system or user, or a fragment) after fragments are spliced in, in characters. SDS093.
MAX_TEMPLATE_CHARS = 100_000

# An expression after `def` predicates are inlined, in nodes (literals, names, operators, calls). SDS094.
MAX_EXPR_NODES = 10_000
# ... and in how deeply def calls nest in it (predicates calling predicates, arguments included). SDS094.
MAX_DEF_NESTING = 32

# A chain of derived fields each reading the last (`field x2 = x1 + 1`): every later pass nests one level deeper
# per link (a field's SQL inlines its inputs'), so a chain of 3,000 took 29 s and 1.6 GB and crashed. SDS096.
MAX_DERIVED_DEPTH = 64

# A joint table's cells: a spec this large takes about a second to parse (lark, ~200 KB/s). SDS095.
MAX_JOINT_CELLS = 5_000

# Not a limit on the spec but on one analysis: the check that a row constraint can hold (SDS018) and rejects
# something (SDS103) evaluates it on every combination of its fields' values; it is made only when
# combinations x expression nodes stay within this many node evaluations (about a second), and skipped beyond.
MAX_FEASIBILITY_EVALS = 1_000_000
