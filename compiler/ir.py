"""The checked spec: immutable pydantic models and their canonical JSON.

The IR is the contract between the front end and every later pass (planner, runner, validator, lock, diff):
they read this, never the AST. It holds meaning only: no spans, no comments, no file paths, so that
reformatting a spec does not change it. Fields, prompts and constraints keep their declaration order (it is
the column order of the dataset). Fragments are already spliced into
prompt templates and `def` predicates already inlined into constraints.

Bump IR_VERSION on any change a reader could notice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterator, Literal, Optional, Sequence, Union

from pydantic import BaseModel, ConfigDict

IR_VERSION = 2  # 2: judges

# A scalar value as it appears in data: category labels, discrete numbers, booleans, ISO dates.
Value = Union[bool, int, float, str]


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- expressions --------------------------------------------------------------


class Expr(Node):
    """One node of an expression tree.

    kind:
      lit    `value` (type string | number | bool | date)
      ref    `field`
      op     `op` in + - * / == != < <= > >= and or => not neg, over `args`
      call   `fn` over `args` (row functions and aggregates; see LANGUAGE.md)
      in     args[0] in args[1:] (`negated` for `not in`)
      range  args[0] in args[1]..args[2], bounds inclusive (`negated` for `not in`)
      if     args = (cond, then, else)
      list   args are the items (only as a call argument)
      member args[0].`field`: the member `field` of the object args[0]
      element  args[0] is an item of the list args[1] (`negated` for `not in`)
    type: the static type of the node: string, number, bool, date, list, object.
    """

    kind: Literal["lit", "ref", "op", "call", "in", "range", "if", "list", "member", "element"]
    type: str
    value: Optional[Value] = None
    field: Optional[str] = None
    op: Optional[str] = None
    fn: Optional[str] = None
    negated: bool = False
    args: tuple["Expr", ...] = ()

    def walk(self) -> Iterator["Expr"]:
        """This expression and every sub-expression, depth first."""
        yield self
        for a in self.args:
            yield from a.walk()

    def refs(self) -> set[str]:
        """Every field this expression reads."""
        out = {self.field} if self.kind == "ref" and self.field else set()
        for a in self.args:
            out |= a.refs()
        return out


# ---- types and distributions -----------------------------------------------


class Type(Node):
    """kind: category | bool | int | float | date | text | enum | list | object.

    values: the allowed values of category and enum (in declared order).
    low/high: inclusive bounds of int, float and date (ISO strings for dates).
    item: the element type of a list; members: the fields of an object.
    """

    kind: Literal["category", "bool", "int", "float", "date", "text", "enum", "list", "object"]
    values: Optional[tuple[Value, ...]] = None
    low: Optional[Union[int, float, str]] = None
    high: Optional[Union[int, float, str]] = None
    item: Optional["Type"] = None
    members: tuple["Member", ...] = ()


class LengthHints(Node):
    """What the prompt asks of a generated value: words, characters, list items (inclusive bounds)."""

    words: Optional[tuple[int, int]] = None
    chars: Optional[tuple[int, int]] = None
    items: Optional[tuple[int, int]] = None


class Member(Node):
    name: str
    type: Type
    description: Optional[str] = None
    hints: LengthHints = LengthHints()


class Share(Node):
    value: Value
    share: float


class Dist(Node):
    """A target distribution.

    kind:
      shares     a finite distribution: `shares` lists every value with its probability (they add up to 1).
                 Categories, bools and discrete numbers all use it, so the planner treats them alike.
      uniform    continuous/integer uniform over the type's range
      normal     params mean, sd; truncated to the type's range
      lognormal  params mu, sigma (of the log); truncated to the type's range
      poisson    param lambda; truncated to the type's range

    declared: false when the spec gave no distribution and the checker filled in the default (uniform shares):
                 the planner treats such shares as a starting point, not a target a constraint can conflict with.
    """

    kind: Literal["shares", "uniform", "normal", "lognormal", "poisson"]
    shares: tuple[Share, ...] = ()
    params: dict[str, float] = {}
    declared: bool = True


class Case(Node):
    when: Value
    dist: Dist


class Conditional(Node):
    """The distribution of a field given the value of another (categorical) field `on`."""

    on: str
    cases: tuple[Case, ...]


class Field(Node):
    """A column of the dataset.

    role:
      sampled    drawn by the planner: `dist`, or `given` (conditional); a field listed only in a joint
                 table has neither: the joint gives its distribution
      derived    computed from other fields by `expr`
      generated  written by an LLM through `prompt`
    categorical: true when the planner stratifies on it (finite `shares` distribution, a conditional one,
                 membership in a joint table, or a derived field over categorical fields with finite values).
    depends_on: every field whose value this one needs (sorted).
    """

    name: str
    role: Literal["sampled", "derived", "generated"]
    type: Type
    categorical: bool = False
    description: Optional[str] = None
    dist: Optional[Dist] = None
    given: Optional[Conditional] = None
    expr: Optional[Expr] = None
    prompt: Optional[str] = None
    hints: LengthHints = LengthHints()
    depends_on: tuple[str, ...] = ()


class JointCell(Node):
    values: tuple[Value, ...]
    share: float


class Joint(Node):
    """A joint target over two or more categorical fields. Cells not listed have share 0."""

    fields: tuple[str, ...]
    cells: tuple[JointCell, ...]


class Template(Node):
    """A prompt template with fragments spliced in. `{field}` placeholders name `fields`; `{{`/`}}` are braces."""

    text: str
    fields: tuple[str, ...]
    fragments: tuple[str, ...] = ()


class RealExamples(Node):
    """`examples = NAME(K)`: K rows of the reference `NAME` shown with every call (LANGUAGE.md, "Reference data")."""

    reference: str
    k: int


class Prompt(Node):
    """How an LLM writes `outputs` from `inputs`. rows_per_call None means auto (the planner decides);
    max_tokens is per row: a call of k rows may use k * max_tokens completion tokens (within the model's limit)."""

    name: str
    system: Optional[Template] = None
    user: Template
    examples: tuple[dict[str, Value | list | dict], ...] = ()
    temperature: Optional[float] = None
    max_tokens: Optional[int] = None
    rows_per_call: Optional[int] = None
    model: Optional[str] = None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    real_examples: Optional[RealExamples] = None
    judge: bool = False  # a judge run as a prompt (plan.judges engine specs only; the checker never sets it)


class Judge(Node):
    """A question a model answers about each row (LANGUAGE.md, "Judges").

    answer yes_no: the verdict is a bool; scale: a whole number from `low` to `high`. inputs: the fields the
    question reads, in order of first use. model None: the writer's (plan.judges decides). temperature None: 0.
    """

    name: str
    question: Template
    system: Optional[Template] = None
    answer: Literal["yes_no", "scale"] = "yes_no"
    low: Optional[int] = None
    high: Optional[int] = None
    model: Optional[str] = None
    rows_per_call: Optional[int] = None
    temperature: Optional[float] = None
    inputs: tuple[str, ...]


class Constraint(Node):
    """A named rule. kind row: `expr` must hold on every row (rows that break it are rejected).
    kind dataset: `expr` (built from aggregates) must hold on the final dataset; with `per`, in every group of rows
    sharing the values of those fields (LANGUAGE.md, "Per stratum")."""

    name: str
    kind: Literal["row", "dataset", "judge"]  # judge: `expr` reads the verdict of `judge` on every row (fields: (judge,))
    judge: Optional[str] = None
    expr: Expr
    fields: tuple[str, ...]
    per: tuple[str, ...] = ()


class Dataset(Node):
    name: str
    rows: int
    seed: int
    model: str
    formats: tuple[str, ...]
    description: Optional[str] = None


class RealCount(Node):
    """How many usable real rows hold one combination of the reference's stratum fields."""

    values: dict[str, Value]
    rows: int


class RealRow(Node):
    """One real row offered as a few-shot example: its 1-based row number in the file and its mapped values."""

    row: int
    values: dict[str, Value]


class Reference(Node):
    """A file of real rows (LANGUAGE.md, "Reference data"), as the checker found it.

    path: as written, relative to the spec (posix). columns: field -> the file's column. sha256, rows: the file's
    bytes and its data rows. strata_fields: the mapped sampled categorical fields, in field order; `counts` are the
    usable rows (not held out, no stratum value missing) per combination of them. pool: candidate few-shot rows
    (at most 4 K per combination), ordered by stratum then md5("SEED:pool:ROW").
    """

    name: str
    path: str
    format: Literal["jsonl", "csv", "parquet"]
    columns: dict[str, str]
    sha256: str
    rows: int
    usable: int
    complete: bool = False
    downsample: bool = False
    holdout: float = 0.0
    strata_fields: tuple[str, ...] = ()
    counts: tuple[RealCount, ...] = ()
    pool: tuple[RealRow, ...] = ()


def derived_levels(derived: Sequence[Field]) -> Optional[dict[str, int]]:
    """Each derived field's level: the length of the longest chain of derived fields below it (0: it reads none),
    computed in linear time without recursion (a chain of thousands of fields took minutes round by round);
    None when the fields read each other in a cycle (SDS017)."""
    by_name = {f.name: f for f in derived}
    level: dict[str, int] = {}
    for f in derived:
        stack = [(f, iter(f.depends_on))]
        visiting = {f.name}
        while stack:
            g, deps = stack[-1]
            d = next((d for d in deps if d in by_name and d not in level), None)
            if d is None:
                stack.pop()
                visiting.discard(g.name)
                level[g.name] = 1 + max((level[d] for d in g.depends_on if d in by_name), default=-1)
            elif d in visiting:
                return None
            else:
                visiting.add(d)
                stack.append((by_name[d], iter(by_name[d].depends_on)))
    return level


class Spec(Node):
    ir_version: int = IR_VERSION
    dataset: Dataset
    fields: tuple[Field, ...]
    joints: tuple[Joint, ...] = ()
    prompts: tuple[Prompt, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    fragments: dict[str, str] = {}
    reference: Optional[Reference] = None
    judges: tuple[Judge, ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def derived_order(self) -> tuple[Field, ...]:
        """The derived fields (with an expression) in dependency order, declaration order among equals: the one
        order every pass computes them in. Not serialised: the IR's bytes (and every lock's ir_sha256) keep."""
        pending = [f for f in self.fields if f.role == "derived" and f.expr is not None]
        level = derived_levels(pending)
        if level is None:  # a cycle (SDS017: no IR has one): declaration order
            return tuple(pending)
        index = {f.name: i for i, f in enumerate(pending)}
        return tuple(sorted(pending, key=lambda f: (level[f.name], index[f.name])))

    def prompt(self, name: str) -> Prompt:
        for p in self.prompts:
            if p.name == name:
                return p
        raise KeyError(name)

    def canonical_json(self) -> str:
        return canonical_json(self)

    def digest(self) -> str:
        """sha256 of the canonical JSON: what the lock and the cache key on."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def canonical_json(node: BaseModel) -> str:
    """Sorted keys, defaults left out, two-space indent, UTF-8, shortest float repr: stable across runs and machines."""
    return json.dumps(node.model_dump(mode="json", exclude_defaults=True), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


Expr.model_rebuild()
Type.model_rebuild()
