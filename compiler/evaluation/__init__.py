"""evaluation: the synthetic rows against real rows: faithful, private, useful (docs/EVAL.md).

sides.py      the synthetic and the real rows of one evaluation, as columns by field, with the held-out split
faithful.py   per-field distances (TVD, KS), vocabulary overlap, the real-vs-synthetic discriminator, per stratum
private.py    each synthetic text's similarity to its nearest real text, and the build's repair hook
useful.py     train on synthetic, test on real: TF-IDF + logistic regression, macro-F1 and the lift
report.py     eval.json (the figures) and eval.md
checks.py     the evaluation aggregates of the language measured for `validate` and the build

Every function is pure and deterministic by the seed. Importing this package loads no scikit-learn (the checker
and the SQL compiler need only the names).
"""

# the aggregates of the language this package measures (LANGUAGE.md, "Evaluating against real data")
EVAL = frozenset({"max_similarity_to_real", "tstr_lift"})
EVAL_VERSION = 2
