"""Intrinsic functions, with the examples of the Step Functions developer guide (intrinsic functions for
JSONPath states) and the ASL specification's Appendix B as test vectors:
https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sfn_testkit import record_expression, single

from localcloud.stepfunctions import intrinsics
from localcloud.stepfunctions.errors import StatesFailure


def ev(expression: str, data: Any = None, context: Any = None) -> Any:
    try:
        value = intrinsics.evaluate(expression, data or {}, context or {})
    except StatesFailure as failure:
        if context is None:
            record_expression(expression, data or {}, None, failure.error)
        raise
    if context is None:
        record_expression(expression, data or {}, value, None)
    return value


def test_format_examples() -> None:
    data = {"name": "Arnav", "template": "Hello, my name is {}."}
    assert ev("States.Format('Hello, my name is {}.', $.name)", data) == "Hello, my name is Arnav."
    assert ev("States.Format($.template, $.name)", data) == "Hello, my name is Arnav."


def test_format_escapes_and_value_types() -> None:
    assert ev(r"States.Format('\{\} {} \'q\' \\', 1)") == "{} 1 'q' \\"
    assert ev("States.Format('{} {} {} {}', 1.5, true, null, 'x')") == "1.5 true null x"
    with pytest.raises(StatesFailure) as err:
        ev("States.Format('{} {}', 1)")
    assert err.value.error == "States.IntrinsicFailure"


def test_string_to_json_and_json_to_string_examples() -> None:
    assert ev("States.StringToJson($.escapedJsonString)", {"escapedJsonString": '{"foo": "bar"}'}) == {
        "foo": "bar"
    }
    assert ev("States.JsonToString($.unescapedJson)", {"unescapedJson": {"foo": "bar"}}) == '{"foo":"bar"}'


def test_array_examples() -> None:
    assert ev("States.Array($.Id)", {"Id": 123456}) == [123456]
    assert ev("States.Array()") == []
    arr = {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    assert ev("States.ArrayPartition($.inputArray,4)", arr) == [[1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert ev("States.ArrayContains($.inputArray, $.lookingFor)", {**arr, "lookingFor": 5}) is True
    assert ev("States.ArrayContains($.inputArray, 10)", arr) is False
    assert ev("States.ArrayRange(1, 9, 2)") == [1, 3, 5, 7, 9]
    assert ev("States.ArrayRange(10, 1, -3)") == [10, 7, 4, 1]
    assert ev("States.ArrayGetItem($.inputArray, $.index)", {**arr, "index": 5}) == 6
    assert ev("States.ArrayLength($.inputArray)", arr) == 9
    assert ev("States.ArrayUnique($.inputArray)", {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}) == [1, 2, 3, 4]


def test_array_validation() -> None:
    for expression in (
        "States.ArrayPartition($.a, 0)",
        "States.ArrayRange(1, 2000, 1)",
        "States.ArrayRange(1, 2, 0)",
        "States.ArrayGetItem($.a, 3)",
        "States.ArrayLength($.s)",
    ):
        with pytest.raises(StatesFailure) as err:
            ev(expression, {"a": [1, 2, 3], "s": "not an array"})
        assert err.value.error == "States.IntrinsicFailure"


def test_base64_examples() -> None:
    assert ev("States.Base64Encode($.input)", {"input": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert ev("States.Base64Decode($.base64)", {"base64": "RGVjb2RlZCBkYXRh"}) == "Decoded data"
    with pytest.raises(StatesFailure):
        ev("States.Base64Encode($.big)", {"big": "x" * 10_001})


def test_hash_example_and_algorithms() -> None:
    data = {"Data": "input data", "Algorithm": "SHA-1"}
    assert ev("States.Hash($.Data, $.Algorithm)", data) == "aaff4a450a104cd177d28d18d74485e8cae074b7"
    assert ev("States.Hash('input data', 'MD5')") == "812f45842bc6d66ee14572ce20db8e86"
    assert len(ev("States.Hash('x', 'SHA-512')")) == 128
    with pytest.raises(StatesFailure):
        ev("States.Hash('x', 'SHA-224')")


def test_json_merge_example() -> None:
    data = {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}
    assert ev("States.JsonMerge($.json1, $.json2, false)", data) == {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}
    with pytest.raises(StatesFailure):
        ev("States.JsonMerge($.json1, $.json2, true)", data)


def test_math_examples() -> None:
    assert ev("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}) == 110
    for _ in range(20):
        assert 1 <= ev("States.MathRandom($.start, $.end)", {"start": 1, "end": 999}) < 999
    assert ev("States.MathRandom(1, 1000, 7)") == ev("States.MathRandom(1, 1000, 7)")  # seeded: repeatable


def test_string_split_examples() -> None:
    assert ev(
        "States.StringSplit($.inputString, $.splitter)", {"inputString": "1,2,3,4,5", "splitter": ","}
    ) == ["1", "2", "3", "4", "5"]
    assert ev(
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "This.is+a,test=string", "splitter": ".+,="},
    ) == ["This", "is", "a", "test", "string"]


def test_uuid() -> None:
    value = ev("States.UUID()")
    assert uuid.UUID(value).version == 4


def test_nested_calls_and_context_paths() -> None:
    arn = "arn:aws:imagebuilder:us-east-1:111122223333:image-recipe/my-recipe/1.0.0"
    nested = (
        "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem(States.StringSplit("
        "States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 1))"
    )
    assert ev(nested, {"ImageRecipe": {"Arn": arn}}) == "1.0"
    assert ev("States.Format('run {}', $$.Execution.Name)", {}, {"Execution": {"Name": "x"}}) == "run x"


@pytest.mark.parametrize(
    "bad",
    [
        "States.Nope(1)",
        "States.Format('unterminated",
        "States.Format('a' 'b')",
        "States.Array(1,",
        "States.Format('\\x')",
        "States.Array(foo)",
        "States.Array(" * 11 + ")" * 11,
    ],
)
def test_syntax_errors(bad: str) -> None:
    with pytest.raises(intrinsics.IntrinsicSyntaxError):
        intrinsics.parse(bad)


def test_intrinsics_in_parameters_and_result_selector() -> None:
    state = {
        "Type": "Pass",
        "Parameters": {"greeting.$": "States.Format('Hello, {}!', $.who)", "ids.$": "States.Array($.a, $.b)"},
    }
    assert single(state, {"who": "Ada", "a": 1, "b": 2}).output == {"greeting": "Hello, Ada!", "ids": [1, 2]}
    failing = single({"Type": "Pass", "Parameters": {"x.$": "States.ArrayGetItem($.a, 9)"}}, {"a": [1]})
    assert failing.error == "States.IntrinsicFailure"
