"""synthc: a compiler for synthetic datasets.

The pipeline, one module per pass: syntax (text -> AST) -> check (AST -> IR) -> plan -> run -> validate -> emit.
"""

__version__ = "0.1.0"
