"""The engine spec: judges as the build's engine runs them (docs/BUILD.md, "Judges").

Each judge becomes a prompt (`judge=True`) whose user template is its question and whose one output is a
generated field named after the judge holding its verdict (a bool for yes_no, an int on its scale), and each
judge constraint a row constraint over that verdict. Planning, requests, the round engine, the cache, the row
store, salvage and the call guard then treat judge calls as they treat every call. The verdict fields exist
only here: the dataset, its checks and `validate` read the checked IR, which has none.

`engine_spec` is idempotent (an engine spec has no judges left), so every pass may call it on what it is given.
"""

from __future__ import annotations

from .. import ir

SYSTEM = ("You are a careful, impartial judge of rows of a dataset. Answer each row's question about that row "
          "alone, from what the question shows; answer every row.")


def engine_spec(spec: ir.Spec) -> ir.Spec:
    """`spec` with every judge as a prompt, its verdict as a generated field and its constraints as row ones."""
    if not spec.judges:
        return spec
    prompts, fields = list(spec.prompts), list(spec.fields)
    for j in spec.judges:
        prompts.append(ir.Prompt(name=j.name, system=_system(j), user=j.question, temperature=j.temperature or 0.0,
                                 rows_per_call=j.rows_per_call, model=judge_model(spec, j), inputs=j.inputs,
                                 outputs=(j.name,), judge=True))
        fields.append(ir.Field(name=j.name, role="generated", type=verdict_type(j), prompt=j.name,
                               description=_describe(j), depends_on=tuple(sorted(j.inputs))))
    inputs = {j.name: j.inputs for j in spec.judges}
    # the judge's inputs join the verdict in `fields`, so a rejected row's example shows what was judged
    constraints = tuple(c.model_copy(update={"kind": "row", "fields": (c.judge, *inputs[c.judge])})
                        if c.kind == "judge" else c for c in spec.constraints)
    return spec.model_copy(update={"prompts": tuple(prompts), "fields": tuple(fields), "constraints": constraints,
                                   "judges": ()})


def judge_model(spec: ir.Spec, judge: ir.Judge) -> str | None:
    """The judge's model: its own, else that of the prompts writing the fields it reads when they share one,
    else the dataset's (None)."""
    if judge.model:
        return judge.model
    writers = {spec.field(n).prompt for n in judge.inputs if spec.field(n).role == "generated"}
    models = {spec.prompt(p).model or spec.dataset.model for p in writers}
    model = models.pop() if len(models) == 1 else None
    return None if model == spec.dataset.model else model


def verdict_type(judge: ir.Judge) -> ir.Type:
    if judge.answer == "yes_no":
        return ir.Type(kind="bool")
    return ir.Type(kind="int", low=judge.low, high=judge.high)


def judge_constraints(spec: ir.Spec) -> dict[str, tuple[ir.Constraint, ...]]:
    """Per judge of the checked spec, the constraints that read its verdict."""
    return {j.name: tuple(c for c in spec.constraints if c.judge == j.name) for j in spec.judges}


def _system(judge: ir.Judge) -> ir.Template:
    text = SYSTEM if judge.system is None else f"{SYSTEM}\n\n{judge.system.text}"
    return ir.Template(text=text, fields=())


def _describe(judge: ir.Judge) -> str:
    if judge.answer == "yes_no":
        return "the answer to the row's question: true for yes, false for no"
    return f"the answer to the row's question, a whole number from {judge.low} to {judge.high}"
