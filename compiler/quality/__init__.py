"""quality: what the rows say, measured. Dataset-level figures over text columns (LANGUAGE.md, "Content quality").

diversity.py   distinct_n, compression_ratio, self_similarity (nearest-neighbour word-shingle Jaccard)
overlap.py     the near-copy measure (word overlap) and its exact index, shared with max_similarity_to_real
neardup.py     near-duplicate pairs (word overlap above a threshold, exact), and the build's repair hook
shortcuts.py   surface-form label prediction (shortcut_lift) and log-odds top words per label value
report.py      the figures of one dataset for report.md / report.json
checks.py      the constraint functions evaluated for `validate` (figures computed in Python)
preload.py     load_measures(): the build imports the measuring modules before its first call

Every function here is pure and deterministic: same texts (and seed) -> same figures.
"""

# the aggregates of the language this package measures; importing it loads no numpy or scikit-learn (the
# checker and the SQL compiler need only the names), the measuring modules are imported when used
QUALITY = frozenset({"distinct_n", "compression_ratio", "self_similarity", "near_unique", "shortcut_lift"})
