"""Choice rules: the developer guide's Choice example, every comparison operator, *Path forms,
And/Or/Not, the Is* type tests and StringMatches."""

from __future__ import annotations

from typing import Any

import pytest
from sfn_testkit import run

from localcloud.stepfunctions import choice

# https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-choice-state.html#choice-state-example
DOC_CHOICE = {
    "Type": "Choice",
    "Choices": [
        {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
        {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
        {
            "And": [
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30},
            ],
            "Next": "ValueInTwenties",
        },
    ],
    "Default": "DefaultState",
}


def route(data: Any, state: dict[str, Any] = DOC_CHOICE) -> str:
    targets = {
        n: {"Type": "Pass", "Result": n, "End": True}
        for n in ("Public", "ValueIsZero", "ValueInTwenties", "DefaultState", "Yes", "No")
    }
    definition = {"StartAt": "C", "States": {"C": state, **targets}}
    outcome = run(definition, data, validate=False)
    assert outcome.error is None, outcome.cause
    return str(outcome.output)


def test_doc_example_routes_private_22_to_value_in_twenties() -> None:
    assert route({"type": "Private", "value": 22}) == "ValueInTwenties"
    assert route({"type": "Public", "value": 22}) == "Public"
    assert route({"type": "Private", "value": 0}) == "ValueIsZero"
    assert route({"type": "Private", "value": 35}) == "DefaultState"


def test_doc_example_fails_when_the_variable_is_missing() -> None:
    # "You must specify the $.type field. If the state input doesn't contain the $.type field, the
    # execution fails"
    outcome = run(
        {
            "StartAt": "C",
            "States": {
                "C": DOC_CHOICE,
                **{
                    n: {"Type": "Succeed"}
                    for n in ("Public", "ValueIsZero", "ValueInTwenties", "DefaultState")
                },
            },
        },
        {"value": 22},
        validate=False,
    )
    assert outcome.error == "States.Runtime"
    assert "Invalid path '$.type'" in (outcome.cause or "")


def test_no_match_without_default_is_no_choice_matched() -> None:
    state = {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "Yes"}]}
    outcome = run({"StartAt": "C", "States": {"C": state, "Yes": {"Type": "Succeed"}}}, {"x": 2})
    assert outcome.error == "States.NoChoiceMatched"


CASES: list[tuple[str, Any, Any, bool]] = [
    ("StringEquals", "MyString", "MyString", True),
    ("StringEquals", "MyString", "Other", False),
    ("StringLessThan", "abc", "abd", True),
    ("StringGreaterThan", "MyStringABD", "MyStringABC", True),
    ("StringLessThanEquals", "abc", "abc", True),
    ("StringGreaterThanEquals", "abb", "abc", False),
    ("NumericEquals", 1, 1, True),
    ("NumericEquals", 1.0, 1, True),
    ("NumericLessThan", 1, 2, True),
    ("NumericGreaterThan", 1, 2, False),
    ("NumericLessThanEquals", 2, 2, True),
    ("NumericGreaterThanEquals", 1.5, 2, False),
    ("BooleanEquals", True, True, True),
    ("BooleanEquals", False, True, False),
    ("TimestampEquals", "2001-01-01T12:00:00Z", "2001-01-01T12:00:00Z", True),
    ("TimestampEquals", "2001-01-01T14:00:00+02:00", "2001-01-01T12:00:00Z", True),
    ("TimestampLessThan", "2001-01-01T11:59:59.999Z", "2001-01-01T12:00:00Z", True),
    ("TimestampGreaterThan", "2016-03-14T01:59:00Z", "2001-01-01T12:00:00Z", True),
    ("TimestampLessThanEquals", "2001-01-01T12:00:00Z", "2001-01-01T12:00:00Z", True),
    ("TimestampGreaterThanEquals", "2000-01-01T12:00:00Z", "2001-01-01T12:00:00Z", False),
    # Step Functions doesn't match a numeric field to a string value (type mismatch: false, not an error)
    ("NumericEquals", "1", 1, False),
    ("StringEquals", 1, "1", False),
    ("BooleanEquals", 1, True, False),
    ("TimestampEquals", "yesterday", "2001-01-01T12:00:00Z", False),
]


@pytest.mark.parametrize(("op", "value", "expected", "result"), CASES)
def test_comparison_operators(op: str, value: Any, expected: Any, result: bool) -> None:
    assert choice.evaluate({"Variable": "$.v", op: expected}, {"v": value}, {}) is result


@pytest.mark.parametrize(
    ("op", "value", "other", "result"),
    [
        ("StringEqualsPath", "a", "a", True),
        ("StringLessThanPath", "a", "b", True),
        ("StringGreaterThanPath", "a", "b", False),
        ("StringLessThanEqualsPath", "b", "b", True),
        ("StringGreaterThanEqualsPath", "c", "b", True),
        ("NumericEqualsPath", 3, 3, True),
        ("NumericLessThanPath", 3, 4, True),
        ("NumericGreaterThanPath", 5, 4, True),
        ("NumericLessThanEqualsPath", 5, 4, False),
        ("NumericGreaterThanEqualsPath", 4, 4, True),
        ("BooleanEqualsPath", False, False, True),
        ("TimestampEqualsPath", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", True),
        ("TimestampLessThanPath", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", True),
        ("TimestampGreaterThanPath", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", False),
        ("TimestampLessThanEqualsPath", "2021-01-01T00:00:00Z", "2021-01-01T00:00:00Z", True),
        ("TimestampGreaterThanEqualsPath", "2019-01-01T00:00:00Z", "2021-01-01T00:00:00Z", False),
    ],
)
def test_path_comparisons(op: str, value: Any, other: Any, result: bool) -> None:
    assert choice.evaluate({"Variable": "$.v", op: "$.other"}, {"v": value, "other": other}, {}) is result


def test_path_comparison_with_missing_operand_is_an_error() -> None:
    with pytest.raises(choice.ChoicePathError):
        choice.evaluate({"Variable": "$.v", "NumericEqualsPath": "$.missing"}, {"v": 1}, {})


@pytest.mark.parametrize(
    ("op", "value", "result"),
    [
        ("IsNull", None, True),
        ("IsNull", 0, False),
        ("IsNumeric", 1.5, True),
        ("IsNumeric", "1", False),
        ("IsNumeric", True, False),
        ("IsString", "x", True),
        ("IsString", 1, False),
        ("IsBoolean", False, True),
        ("IsBoolean", 0, False),
        ("IsTimestamp", "2016-03-14T01:59:00Z", True),
        ("IsTimestamp", "2016-03-14 01:59:00", False),
        ("IsTimestamp", "2016-03-14t01:59:00z", False),
    ],
)
def test_type_tests(op: str, value: Any, result: bool) -> None:
    assert choice.evaluate({"Variable": "$.v", op: True}, {"v": value}, {}) is result
    assert choice.evaluate({"Variable": "$.v", op: False}, {"v": value}, {}) is (not result)


def test_is_present_never_fails_on_a_missing_variable() -> None:
    assert choice.evaluate({"Variable": "$.v", "IsPresent": True}, {"v": None}, {}) is True
    assert choice.evaluate({"Variable": "$.v", "IsPresent": True}, {}, {}) is False
    assert choice.evaluate({"Variable": "$.v", "IsPresent": False}, {}, {}) is True


def test_string_matches_wildcards_and_escapes() -> None:
    # Developer guide example: "Variable": "$.foo", "StringMatches": "log-*.txt"
    rule = {"Variable": "$.foo", "StringMatches": "log-*.txt"}
    assert choice.evaluate(rule, {"foo": "log-2020-01-01.txt"}, {})
    assert not choice.evaluate(rule, {"foo": "log-2020.csv"}, {})
    assert choice.evaluate({"Variable": "$.f", "StringMatches": "*"}, {"f": ""}, {})
    assert choice.evaluate({"Variable": "$.f", "StringMatches": "a\\*b"}, {"f": "a*b"}, {})
    assert not choice.evaluate({"Variable": "$.f", "StringMatches": "a\\*b"}, {"f": "axxb"}, {})
    assert not choice.evaluate({"Variable": "$.f", "StringMatches": "a*"}, {"f": 5}, {})


def test_and_or_not_nesting() -> None:
    rule = {
        "Or": [
            {"And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.a", "NumericGreaterThan": 5}]},
            {"Not": {"Variable": "$.b", "BooleanEquals": True}},
        ]
    }
    assert choice.evaluate(rule, {"a": 6, "b": True}, {})
    assert not choice.evaluate(rule, {"a": 1, "b": True}, {})
    assert choice.evaluate(rule, {"b": False}, {})


def test_context_object_variable() -> None:
    assert choice.evaluate(
        {"Variable": "$$.Execution.Name", "StringEquals": "run-1"}, {}, {"Execution": {"Name": "run-1"}}
    )


def test_choice_output_path_and_default() -> None:
    state = {
        "Type": "Choice",
        "InputPath": "$.in",
        "OutputPath": "$.keep",
        "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Yes"}],
        "Default": "No",
    }
    definition = {
        "StartAt": "C",
        "States": {
            "C": state,
            "Yes": {"Type": "Pass", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }
    assert run(definition, {"in": {"n": 1, "keep": {"k": 1}}}).output == {"k": 1}
    assert run(definition, {"in": {"n": 2, "keep": {"k": 1}}}).output == "no"
