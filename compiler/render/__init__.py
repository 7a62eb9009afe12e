"""What the CLI shows a person: rich tables for a plan (plan.py), validation checks (validate.py) and a diff
(diff.py, with its GitHub markdown and JSON forms). The passes never import this package, so they load no rich."""
