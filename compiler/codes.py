"""Long explanations of diagnostic codes, for `synthc explain CODE`. Titles live in diagnostics.CODES."""

from __future__ import annotations

from .diagnostics import CODES

EXPLANATIONS: dict[str, str] = {
    "SDS001": "The parser met a token it did not expect. The hint lists what would have fitted there. Every "
              "declaration starts with one of: from, dataset, field, joint, fragment, prompt, constraint, def.",
    "SDS002": "A character or literal the language does not have: a single-quoted string, a `;`, an unterminated "
              "string, or a date that is not on the calendar (2024-02-30).",
    "SDS003": "The file cannot be a spec: it is missing, a directory, empty, binary, not UTF-8, or over "
              "2,000,000 bytes. At most one byte past the limit is read, whatever size the file reports, so a "
              "device or a pipe that never ends is reported as too long.",
    "SDS004": "A spec has exactly one `dataset NAME { rows = N ... }` header. Modules imported by a spec have none.",
    "SDS005": "The same name (field, prompt, fragment, constraint, def), value, setting or table cell is declared "
              "twice. Names share one namespace per file.",
    "SDS006": "A setting or attribute that does not exist here, usually a typo; the hint suggests the nearest one. "
              "`words`, `chars` and `items` are hints for generated fields only.",
    "SDS007": "A setting has a value of the wrong kind or out of range: rows must be a whole number >= 1, "
              "temperature 0..2, formats a list of jsonl/parquet/csv, and so on.",
    "SDS010": "A name that is not declared or imported in this file: a field, fragment, prompt, def or function. "
              "The hint suggests the closest declared name.",
    "SDS011": "A value that the field cannot take: `sentiment == \"negatve\"` when sentiment's values are "
              "positive, neutral and negative, or a share-table key outside the declared values or range.",
    "SDS012": "Two things of different types meet: a category compared with a number, `<` on text, `and` on a "
              "number, a constraint that is not a condition, a non-fragment inside a template.",
    "SDS013": "A share table must add up to exactly 100% (exact arithmetic: write thirds as 1/3). Each share is "
              "between 0% and 100%, and every declared value gets one.",
    "SDS014": "A range is empty (low above high), has bounds of the wrong kind, or is missing where a numeric or "
              "date field needs one (`int in 1..5`).",
    "SDS015": "A distribution that does not exist or does not fit the field: unknown names, missing or unknown "
              "parameters, sd/sigma/lambda <= 0, poisson on a float, a normal with no mass in the range.",
    "SDS016": "A template placeholder `{name}` that names no field, or a stray brace. Write `{{` and `}}` for "
              "literal braces in prompt text.",
    "SDS017": "Declarations that depend on themselves: derived fields reading each other, fragments including each "
              "other, a def calling itself, a prompt reading its own output, or prompts feeding each other.",
    "SDS018": "A row constraint that no combination of the values of the fields it reads satisfies, so every "
              "row would be rejected.",
    "SDS019": "A function called with the wrong number or kind of arguments, an invalid regular expression, or "
              "tvd/drift on a field without a target distribution.",
    "SDS020": "An imported module that does not exist: `std.NAME` must name a module of the standard library; a "
              "quoted path must name a file relative to the importing file.",
    "SDS021": "Modules import each other in a cycle. Move what they share into a third module.",
    "SDS022": "An import path that is absolute or leaves the project (the nearest folder with synthc.toml or .git "
              "above the spec), or a standard module importing a project file.",
    "SDS023": "An imported name that the module does not declare. Only a module's own declarations are "
              "importable; import re-exported names from the module that declares them.",
    "SDS024": "A conditional distribution (`given`) needs a sampled categorical field to condition on and a case "
              "for every one of its values.",
    "SDS025": "A joint table names fields that cannot be in one (generated, derived, conditional, numeric), has "
              "cells of the wrong width, or disagrees with a field's own declared shares.",
    "SDS026": "A prompt without a `user` template.",
    "SDS027": "A generated type (text, enum, list, object) without `from PROMPT`, or a generated field that also "
              "declares a distribution.",
    "SDS028": "Aggregates (unique, mean, tvd, ...) belong to dataset-level constraints; in those, every field "
              "must be read inside an aggregate.",
    "SDS029": "The targets cannot all hold at once: a constraint between sampled fields forbids combinations that "
              "the declared shares need. The message names the nearest achievable shares.",
    "SDS030": "Fields tied together by joint tables, conditionals or constraints between them have more value "
              "combinations than the planner fits jointly (200,000). Tie fewer fields together or use fewer values.",
    "SDS031": "A number literal that a double cannot hold: above about 1.8e308 in size, or written with an "
              "exponent beyond e308 or e-308 (`1e309`, `1e-400`). Every number becomes a double somewhere (DuckDB, "
              "JSON, the planner), so it is refused where it is written.",
    "SDS032": "An expression or type nested more than 100 levels deep (operators, calls, if/else chains, lists, "
              "objects), predicates calling each other more than 32 deep, derived fields reading each other more "
              "than 64 deep, or expressions over 200,000 nodes once predicates are expanded. A real spec stays "
              "far below these limits; move a part into a derived field or a `def`.",
    "SDS033": "A field name that starts with `_`. Those names belong to the columns synthc adds to a dataset: "
              "`_id` (the row id) and `_origin` (real or synthetic rows of a completed dataset), and any it adds "
              "later. Rename the field; fragments, prompts, constraints and defs may still start with `_`.",
    "SDS034": "A regular expression that Python accepts but DuckDB (RE2), which checks the dataset, cannot run or "
              "reads differently: POSIX classes (`[[:alpha:]]`), `\\Z`, lookarounds, backreferences, repeats over "
              "1000, possessive quantifiers. Rewrite it with the constructs both read the same way.",
    "SDS035": "A dataset constraint `tvd(f) <= X` that the planned rows already break: a build keeps exactly "
              "the planned rows of each value, and whole rows cannot come within X of the targets at this N (a "
              "third of 20 rows is 6 or 7 rows, tvd 3.3%). Reported by check and plan, before any call. Raise "
              "`rows` or loosen the bound to the tvd the message names.",
    "SDS050": "`obj.name` names a member the object type does not declare. An object field's members are the names "
              "in its `object { ... }` type; nested objects are read member by member (`a.vitals.pulse`).",
    "SDS060": "A `per` field of a dataset constraint has no finite set of values. Groups are made of category, "
              "enum, bool and ranged int fields (at most 1,000 values).",
    "SDS061": "`per` follows a row-level constraint. A row constraint already holds on every row; `per` groups "
              "rows for dataset-level constraints (those calling an aggregate).",
    "SDS062": "`per` on tvd, drift, unique or near_unique. A target per group is a `given` table, uniqueness "
              "within a group is unique(group_field, text), and near-copies are rejected across the dataset.",
    "SDS070": "A content-quality aggregate (distinct_n, compression_ratio, self_similarity, near_unique, "
              "shortcut_lift) used wrongly: its text argument must name a text field, shortcut_lift's label a "
              "category, enum or bool field, distinct_n's n a whole number 1 to 3 and near_unique's threshold a "
              "number strictly between 0 and 1. See LANGUAGE.md, \"Content quality\".",
    "SDS090": "`rows` is above the limit of 1,000,000. A build keeps a round's rows and calls in memory (about "
              "900 bytes per row), so the limit keeps a build's memory and its time before the first call bounded. "
              "Build larger datasets as several specs with different seeds. See LANGUAGE.md, \"Limits\".",
    "SDS091": "A range bound that values cannot be written with: int bounds must fit in 64 bits "
              "(-9223372036854775808..9223372036854775807, DuckDB BIGINT and Parquet INT64), float bounds must "
              "be at most 1e300 in magnitude (so that the width of the range is a finite float).",
    "SDS092": "A distribution parameter past what the planner can spread in bounded time: every parameter at "
              "most 1e15 in magnitude, poisson's lambda at most 1,000,000 (for more, normal(mean = L, "
              "sd = sqrt(L)) has the same shape), and a lognormal with |mu| + 8 sigma at most 700 (so that "
              "e^x stays a finite float).",
    "SDS093": "A template (a prompt's system or user text, or a fragment) longer than 100,000 characters after "
              "its fragments are spliced in. Lengths are added up before any text is built, so fragments that "
              "double each other are reported at once. A prompt this long is sent with every call.",
    "SDS094": "A constraint or derived expression that has more than 10,000 nodes once its `def` predicates are "
              "inlined (a predicate that calls another twice doubles its size at every level). The size is "
              "computed per predicate before anything is inlined. Pass intermediate results through derived "
              "fields instead of repeating a predicate. Predicates that call predicates may also nest at most 32 calls "
              "deep (arguments included), however small the result.",
    "SDS096": "A derived field computed from a chain of more than 64 derived fields, each reading the last "
              "(`field x2 = x1 + 1`, `field x3 = x2 + 1`, ...). Every link nests the field's SQL and checks one "
              "level deeper; compute the field from sampled fields in fewer steps (one derived field may read "
              "many fields). See LANGUAGE.md, \"Limits\".",
    "SDS095": "A joint table with more than 5,000 cells. Tie fewer fields together, or give the values shares "
              "per field (independent fields need no joint table).",
    "SDS071": "A judge needs a `question` (a template with {field} placeholders, filled in per row) and an `answer` "
              "that is `yes_no` (the default) or a scale LOW..HIGH of whole numbers from 0 to 100. Its system "
              "template cannot read fields: one system message is sent per call of many rows.",
    "SDS072": "A judge's verdict is read only by a judge constraint, in one of three forms: `constraint c: J` for a "
              "yes/no judge (`not J` to require a no), `constraint c: J >= 4` (any of == != < <= > >=, with a whole number) or "
              "`constraint c: J in 4..5` for a scale. Combined with other conditions, inside an aggregate, "
              "a derived field or a def, it is an error.",
    "SDS073": "A judge constraint's threshold must lie on the judge's scale, and some answers must pass it and some "
              "fail it: `clarity >= 6` on 1..5 rejects every row, `clarity >= 1` none.",
    "SDS078": "A judge that no constraint reads is never asked (it costs nothing and decides nothing). Add a "
              "constraint such as `constraint agrees: J`, or remove the judge.",
    "SDS079": "A judge whose question reads only sampled or derived fields judges values the planner chose itself, "
              "not what a model wrote: put the generated text in its question ({body}), or write the rule as a "
              "row constraint.",
    "SDS101": "A prompt that no field names with `from`: it would never be called.",
    "SDS103": "A row constraint that every combination of its fields' values satisfies: it rejects nothing.",
    "SDS080": "A `reference` names a data file that is missing, is not .jsonl/.ndjson, .csv or .parquet, or does "
              "not parse in that format (DuckDB reads it).",
    "SDS081": "A reference path is absolute or leads out of the project (the folder with synthc.toml or .git): "
              "data files are named relative to the spec, like imported modules.",
    "SDS082": "A `COLUMN -> FIELD` line names a column the reference file does not have; the hint suggests the "
              "nearest one or lists the file's columns.",
    "SDS083": "A reference column's values cannot be the field's: text for text and string categories, whole "
              "numbers for int, numbers for float, booleans for bool, dates or ISO date strings for date. Lists "
              "and objects cannot be mapped.",
    "SDS084": "A value in the reference file that the field cannot take: a category outside its values, a number "
              "or date outside its range. The message names the data lines (rows for Parquet) holding it.",
    "SDS085": "A reference used wrongly: a second reference, one in an imported module, `downsample` without "
              "`complete`, a derived field mapped, or `complete = true` while a sampled or generated field is "
              "not mapped (every real row needs every column).",
    "SDS086": "`examples = REFERENCE(K)` names no reference of the spec, has K outside 1..20, or belongs to a prompt "
              "whose outputs the reference does not map (an example shows inputs and outputs).",
    "SDS155": "A derived value divides by an expression whose range includes 0. A row where it is 0 gets no value "
              "(null) and is reported as a type violation of the derived field, never NaN or infinity.",
    "SDS140": "A mapped reference column has missing values (null, or absent from a JSON object). A row missing "
              "the value of a sampled field cannot be placed in a stratum and is not used.",
    "SDS160": "`max_similarity_to_real` and `tstr_lift` compare the synthetic rows with the rows of the spec's "
              "reference file; a spec without `reference NAME from \"PATH\" { ... }` has none to compare with.",
    "SDS161": "An evaluation aggregate reads fields the reference maps: `max_similarity_to_real(t)` a text field, "
              "`tstr_lift(label, t)` a categorical label and a text field, each named directly and mapped by a "
              "`COLUMN -> FIELD` line of the reference.",
    "SDS162": "`per` on tstr_lift or max_similarity_to_real. The lift compares classifiers of a label over all its "
              "values on the held-out real rows: a group has too few of them to decide, and `per LABEL` leaves one "
              "label per group, where any classifier is right (the figure means nothing). The similarity bound "
              "already holds on every synthetic text, whatever its group. Drop `per`.",
    "SDS163": "A bound on tstr_lift or max_similarity_to_real that can never hold or always holds (a lift is a "
              "difference of two macro-F1 scores, so it lies in -1..1; a similarity lies in 0..1), or a lower bound "
              "on max_similarity_to_real, which holds only when some synthetic text copies a real one. A warning: "
              "the spec checks, but the constraint decides nothing or asks for copies.",
}


def explain(code: str) -> str | None:
    if code not in CODES:
        return None
    return f"{code}: {CODES[code]}\n\n{EXPLANATIONS.get(code, '')}\n\nSee LANGUAGE.md, section \"Error codes\"."
