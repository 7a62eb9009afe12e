"""Salvage: answers of every shape -> checked rows matched to the rows asked (by handle, 1..k, or position); a
truncated answer keeps its complete rows."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from synthc import ir
from synthc.run.salvage import complete_objects, raw_rows, row_model, salvage
from synthc.plan.schema import response_format, row_schema, rows_schema, type_schema


def _field(name: str, **type_kw) -> ir.Field:
    return ir.Field(name=name, role="generated", type=ir.Type(**type_kw))


FIELDS = [
    _field("title", kind="text"),
    _field("rating", kind="int", low=1, high=5),
    _field("mood", kind="enum", values=("happy", "sad")),
    _field("score", kind="float", low=0.0, high=1.0),
    _field("ok", kind="bool"),
    _field("tags", kind="list", item=ir.Type(kind="text")),
    _field("when", kind="date", low="2020-01-01", high="2024-12-31"),
    _field("who", kind="object", members=(ir.Member(name="name", type=ir.Type(kind="text")),
                                          ir.Member(name="age", type=ir.Type(kind="int", low=0, high=120)))),
]
MODEL = row_model(FIELDS)
IDS = ["ab12-000000", "ab12-000001", "ab12-000002"]


def _row(i: int, **over) -> dict:
    row = {"row": i + 1, "title": f"t{i}", "rating": 1 + i, "mood": "happy", "score": 0.5, "ok": True,
           "tags": ["a", "b"], "when": "2021-03-04", "who": {"name": "x", "age": 30}}
    row.update(over)
    return row


def _plain(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("row", "id")}


def test_whole_answer_in_every_shape():
    rows = [_row(i) for i in range(3)]
    for text in (json.dumps({"rows": rows}), json.dumps(rows), json.dumps({"items": rows}),
                 "Here you go:\n```json\n" + json.dumps({"rows": rows}) + "\n```\nEnjoy!"):
        got = salvage(text, IDS, MODEL)
        assert got.rows == {IDS[i]: _plain(rows[i]) for i in range(3)}, text
        assert got.rejected == [] and got.missing == [] and got.complete


def test_one_bare_row():
    got = salvage(json.dumps(_plain(_row(0))), IDS[:1], MODEL)
    assert got.rows == {IDS[0]: _plain(_row(0))}


def test_a_wrapper_key_that_is_a_field_is_a_row():
    model = row_model([_field("people", kind="list", item=ir.Type(kind="object", members=(
        ir.Member(name="n", type=ir.Type(kind="text")),)))])
    got = salvage(json.dumps({"people": [{"n": "a"}, {"n": "b"}]}), ["r-000000"], model)
    assert got.rows == {"r-000000": {"people": [{"n": "a"}, {"n": "b"}]}}


def test_rows_that_break_the_types_are_rejected_with_reasons():
    rows = [_row(0, rating=9), _row(1, mood="angry"), _row(2, when="2030-01-01")]
    rows += [_row(0)]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert got.rows == {IDS[0]: _plain(rows[3])}  # the later good row for id 0 is kept
    reasons = [r for _, r in got.rejected]
    assert len(reasons) == 3
    assert "rating" in reasons[0] and "mood" in reasons[1] and "when" in reasons[2]
    assert got.missing == IDS[1:]


def test_nested_object_and_list_items_are_checked():
    got = salvage(json.dumps({"rows": [_row(0, who={"name": "x", "age": 999}), _row(1, tags=[1])]}), IDS, MODEL)
    assert got.rows == {}
    assert "who.age" in got.rejected[0][1] and "tags.0" in got.rejected[1][1]


def test_extra_keys_are_dropped_and_lengths_are_not_enforced():
    row = _row(0, title="word " * 500, echoed_input="positive")
    got = salvage(json.dumps([row]), IDS[:1], MODEL)
    assert got.rows[IDS[0]]["title"] == "word " * 500
    assert "echoed_input" not in got.rows[IDS[0]]


def test_rows_match_by_handle_before_position():
    rows = [_row(2), _row(0)]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert list(got.rows) == [IDS[0], IDS[2]]  # in the order the rows were asked for
    assert got.rows[IDS[2]]["title"] == "t2"
    assert got.missing == [IDS[1]]


def test_rows_without_handles_match_by_position_and_extras_are_rejected():
    rows = [_plain(_row(i % 3)) for i in range(4)]
    got = salvage(json.dumps(rows), IDS, MODEL)
    assert [got.rows[IDS[i]]["title"] for i in range(3)] == ["t0", "t1", "t2"]
    assert len(got.rejected) == 1 and "past the 3 rows" in got.rejected[0][1]


def test_the_one_row_of_a_one_row_call_is_kept_whatever_its_handle():
    got = salvage(json.dumps({"rows": [{**_row(0), "row": 7}]}), IDS[:1], MODEL)
    assert list(got.rows) == IDS[:1]
    got = salvage(json.dumps({"rows": [{**_row(0), "row": 9}, _row(1), _row(0)]}), IDS[:2], MODEL)
    assert list(got.rows) == IDS[:2]  # with more rows than asked the handles decide
    assert got.rows[IDS[0]] == _plain(_row(0)) and len(got.rejected) == 1
    assert got.rejected[0][1] == "row 9 names no row asked for"


def test_invented_handles_with_the_right_count_match_by_position():
    rows = [{**_row(i), "row": h} for i, h in enumerate([0, 17, "x"])]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert [got.rows[IDS[i]]["title"] for i in range(3)] == ["t0", "t1", "t2"]
    assert got.by_position == 3 and got.failed == {}
    # one right handle in its place and one invented: still in order
    got = salvage(json.dumps({"rows": [_row(0), {**_row(1), "row": 44}, _row(2)]}), IDS, MODEL)
    assert list(got.rows) == IDS and got.by_position == 1


def test_handles_written_as_text_match_their_row():
    rows = [{**_row(2), "row": "3"}, {**_row(0), "row": "Row 1"}]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert got.rows[IDS[2]]["title"] == "t2" and got.rows[IDS[0]]["title"] == "t0"
    assert got.failed == {IDS[1]: ("missing", "the answer held 2 rows for 3 asked")}


def test_a_right_handle_out_of_place_turns_off_the_positional_match():
    rows = [_row(1), {**_row(0), "row": 7}, {**_row(2), "row": "y"}]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert list(got.rows) == [IDS[1]]  # reordered and invented: nothing else can be matched safely
    assert got.failed[IDS[0]][0] == "unmatched_ids" and got.failed[IDS[2]][0] == "unmatched_ids"


def test_a_row_echoing_another_rows_input_is_not_given_to_this_row():
    asked = [{"id": IDS[i], "sentiment": s} for i, s in enumerate(["positive", "negative", "neutral"])]
    rows = [{**_row(i), "row": 10 + i, "sentiment": s} for i, s in enumerate(["Positive", "neutral", "negative"])]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL, asked)
    assert list(got.rows) == IDS[:1]  # row 1 and 2 answer each other's requests
    assert got.failed[IDS[1]][0] == "unmatched_ids" and "sentiment" in got.failed[IDS[1]][1]


def test_rows_naming_a_merged_line_take_its_rows_in_turn():
    """A line asking rows 1-2 the same: answers that copy "1-2" go to its rows in turn, a third is one too many."""
    rows = [{**_row(0), "row": "1-2"}, {**_row(1), "row": "1-2"}, _row(2)]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert [got.rows[i]["title"] for i in IDS] == ["t0", "t1", "t2"] and got.by_position == 0
    rows = [_row(2), {**_row(0), "row": "1-2"}, {**_row(1), "row": "1-2"}, {**_row(1), "row": "1-2"}]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert [got.rows[i]["title"] for i in IDS] == ["t0", "t1", "t2"]
    assert [r for _, r in got.rejected] == ["a second row for row 1"]  # one more than the line asked


def test_reordered_rows_with_their_handles_reach_their_rows():
    rows = [_row(2), _row(0), _row(1)]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert [got.rows[i]["title"] for i in IDS] == ["t0", "t1", "t2"] and got.by_position == 0


def test_a_copied_row_id_still_names_its_row():
    rows = [{**_plain(_row(1)), "id": IDS[1]}, {**_plain(_row(0)), "id": IDS[0]}]
    got = salvage(json.dumps({"rows": rows}), IDS, MODEL)
    assert got.rows[IDS[0]]["title"] == "t0" and got.rows[IDS[1]]["title"] == "t1"


def test_a_field_named_row_moves_the_handle_to_underscore_row():
    model = row_model([_field("row", kind="int", low=1, high=9)])
    text = json.dumps({"rows": [{"_row": 2, "row": 1}, {"_row": 1, "row": 2}]})
    got = salvage(text, IDS[:2], model)
    assert got.rows == {IDS[0]: {"row": 2}, IDS[1]: {"row": 1}}


def test_failure_kinds():
    assert set(k for k, _ in salvage("", IDS, MODEL).failed.values()) == {"empty"}
    text = json.dumps({"rows": [_row(0), _row(1), _row(2)]})
    cut = salvage(text[: text.index('"row": 2') + 5], IDS, MODEL)
    assert [cut.failed[i][0] for i in IDS[1:]] == ["truncated", "truncated"]
    bad = salvage(json.dumps({"rows": [_row(0, rating=9), _row(1), _row(2)]}), IDS, MODEL)
    assert bad.failed == {IDS[0]: ("schema", bad.rejected[0][1])}


def test_unknown_and_duplicate_handles_are_rejected():
    rows = [_row(0), _row(0, title="again"), {**_row(1), "row": 99}]
    got = salvage(json.dumps(rows), IDS, MODEL)
    assert got.rows == {IDS[0]: _plain(_row(0))}
    assert ["second row" in r for _, r in got.rejected] == [True, False]
    assert "names no row asked for" in got.rejected[1][1]


def test_empty_and_non_json_answers():
    for text in ("", "   ", "I cannot help with that."):
        got = salvage(text, IDS, MODEL)
        assert got.rows == {} and got.missing == IDS and len(got.rejected) == 1


def test_truncated_answer_keeps_complete_rows():
    text = json.dumps({"rows": [_row(0), _row(1), _row(2)]})
    cut = text.index('"row": 3') + 5
    got = salvage(text[:cut], IDS, MODEL)
    assert list(got.rows) == IDS[:2] and not got.complete
    assert got.missing == IDS[2:]


def test_scanner_ignores_braces_and_escapes_inside_strings():
    tricky = [_row(0, title='a } ] { [ "quoted" \\ back\\slash \\" end'), _row(1, title="\\\\"), _row(2)]
    text = json.dumps({"rows": tricky})
    assert [json.loads(p) for p in complete_objects(text[:-2])] == tricky
    rows, rejected, complete = raw_rows(text[: text.rindex('"row"')])
    assert rows == tricky[:2] and not complete and rejected == []


def test_nested_objects_inside_a_row_are_not_rows():
    text = json.dumps([_row(0), _row(1)])
    cut = text.rindex('"age"')  # inside the second row's nested object, after it opened
    assert [json.loads(p) for p in complete_objects(text[:cut])] == [_row(0)]


def _row_ends(whole: str, wrapped: bool) -> list[int]:
    """Where each row of the list ends in `whole`, by decoding the rows one after another."""
    dec = json.JSONDecoder()
    i = whole.index("[", whole.index('"rows"') if wrapped else 0) + 1
    ends = []
    while True:
        while whole[i] in " \n,":
            i += 1
        if whole[i] == "]":
            return ends
        _, i = dec.raw_decode(whole, i)
        ends.append(i)


_scalar = st.one_of(st.text(max_size=8), st.integers(-1000, 1000), st.booleans(), st.none(),
                    st.floats(allow_nan=False, allow_infinity=False))
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                              max_size=3), max_leaves=8)
_rows = st.lists(st.dictionaries(st.text(max_size=6), _value, max_size=4), max_size=5)


@settings(max_examples=30, deadline=None)
@given(rows=_rows, wrapped=st.booleans(), indent=st.sampled_from([None, 1, 2]), ascii_only=st.booleans())
def test_every_cut_yields_exactly_the_rows_complete_before_it(rows, wrapped, indent, ascii_only):
    # Lay the answer out piece by piece so the end of each row in the text is known.
    dump = lambda v: json.dumps(v, indent=indent, ensure_ascii=ascii_only)  # noqa: E731
    whole = dump({"rows": rows} if wrapped else rows)
    assert json.loads(whole) == ({"rows": rows} if wrapped else rows)
    ends = _row_ends(whole, wrapped)
    for cut in range(len(whole) + 1):
        want = [r for r, e in zip(rows, ends) if e <= cut]
        assert [json.loads(p) for p in complete_objects(whole[:cut])] == want, (cut, whole[:cut])


@given(rows=_rows)
@settings(max_examples=30, deadline=None)
def test_cut_answers_through_salvage(rows):
    model = row_model([_field("a", kind="text")])
    good = [{"row": i + 1, "a": f"v{i}"} for i in range(len(rows))]
    text = json.dumps({"rows": good})
    ids = [f"ab12-{i:06d}" for i in range(len(rows))]
    for cut in range(0, len(text) + 1, 3):
        got = salvage(text[:cut], ids, model)
        n = len(got.rows)
        assert list(got.rows) == ids[:n]  # a prefix, never a gap
        assert all(text.index(json.dumps(g)) + len(json.dumps(g)) <= cut for g in good[:n])


def test_schema_matches_the_row_model():
    schema = rows_schema(FIELDS, 3)
    items = schema["properties"]["rows"]
    assert items["minItems"] == items["maxItems"] == 3
    row = items["items"]
    assert row["required"] == ["row", *[f.name for f in FIELDS]] and row["additionalProperties"] is False
    assert row["properties"]["row"] == {"type": "integer", "enum": [1, 2, 3]}
    assert row["properties"]["rating"] == {"type": "integer", "minimum": 1, "maximum": 5, "enum": [1, 2, 3, 4, 5]}
    assert row["properties"]["mood"] == {"enum": ["happy", "sad"], "type": "string"}
    assert row["properties"]["when"] == {"type": "string", "format": "date"}
    assert row["properties"]["who"]["required"] == ["name", "age"]
    assert response_format("r", schema)["json_schema"]["strict"] is True
    assert not {"id", "row"} & set(row_schema(FIELDS)["properties"])


def test_schema_of_wide_ranges_and_hints():
    wide = type_schema(ir.Type(kind="int", low=0, high=10_000))
    assert "enum" not in wide and wide["maximum"] == 10_000
    text = type_schema(ir.Type(kind="text"), ir.LengthHints(words=(3, 12)), "the title")
    assert text == {"type": "string", "description": "the title; 3 to 12 words"}
    lst = type_schema(ir.Type(kind="list", item=ir.Type(kind="text")), ir.LengthHints(items=(2, 4)))
    assert (lst["minItems"], lst["maxItems"]) == (2, 4)


def test_text_with_a_lone_surrogate_is_a_schema_rejection_not_a_crash():
    """JSON allows `"\\udb10"`; UTF-8 cannot hold it, so the row is rejected like any row of the wrong type."""
    text = json.dumps({"rows": [_row(0, title="ok \udb10"), _row(1, tags=["a", "\ud800"]), _row(2)]})
    got = salvage(text, IDS, MODEL)
    assert set(got.rows) == {IDS[2]}
    assert "not valid Unicode" in got.failed[IDS[0]][1] and got.failed[IDS[0]][1].startswith("title")
    assert got.failed[IDS[1]][1].startswith("tags.1")
