"""CloudFormation intrinsics and conditions resolved against a local stack, and parameters."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.template.errors import TemplateError
from localcloud.template.intrinsics import SUPPORTED, Resolver
from localcloud.template.parameters import parse_overrides, resolve_parameters

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "test"}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "IsTest": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Both": {"Fn::And": [{"Condition": "IsTest"}, {"Fn::Equals": ["a", "a"]}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]},
        "Loop": {"Condition": "Loop"},
    },
    "Mappings": {"Sizes": {"test": {"Memory": 256}, "prod": {"Memory": 1024}}},
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}, "Fn": {"Type": "AWS::Serverless::Function"}},
}
PSEUDO = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "000000000000",
    "AWS::Partition": "aws",
    "AWS::StackName": "app",
    "AWS::URLSuffix": "amazonaws.com",
}


def resolver(stage: str = "test") -> Resolver:
    return Resolver(
        TEMPLATE,
        parameters={"Stage": stage, "Subnets": ["a", "b"]},
        pseudo=PSEUDO,
        ref=lambda name: f"physical-{name}",
        get_att=lambda name, attr: f"arn:{name}:{attr}",
    )


def r(value: Any, stage: str = "test") -> Any:
    return resolver(stage).resolve(value, "Resource X")


def test_ref_parameters_resources_and_pseudo_parameters() -> None:
    assert r({"Ref": "Stage"}) == "test"
    assert r({"Ref": "Bucket"}) == "physical-Bucket"
    assert r({"Ref": "AWS::Region"}) == "eu-west-1"
    assert r({"Ref": "AWS::AccountId"}) == "000000000000"
    assert r({"Ref": "AWS::Partition"}) == "aws"
    assert r({"Ref": "AWS::StackName"}) == "app"


def test_get_att_both_forms() -> None:
    assert r({"Fn::GetAtt": ["Fn", "Arn"]}) == "arn:Fn:Arn"
    assert r({"Fn::GetAtt": "Fn.Arn"}) == "arn:Fn:Arn"


def test_sub_both_forms_and_escapes() -> None:
    assert (
        r({"Fn::Sub": "${AWS::StackName}-${Stage}-${Bucket}-${Fn.Arn}"})
        == "app-test-physical-Bucket-arn:Fn:Arn"
    )
    assert (
        r({"Fn::Sub": ["${Name}/${AWS::Region}", {"Name": {"Ref": "Bucket"}}]}) == "physical-Bucket/eu-west-1"
    )
    assert r({"Fn::Sub": "${!Literal} and ${ Stage }"}) == "${Literal} and test"
    assert (
        r({"Fn::Sub": "https://${Fn}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"})
        == "https://physical-Fn.execute-api.eu-west-1.amazonaws.com/"
    )


def test_join_select_split_base64_getazs() -> None:
    assert r({"Fn::Join": ["-", ["a", {"Ref": "Stage"}, "c"]]}) == "a-test-c"
    assert r({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert r({"Fn::Select": [0, {"Ref": "Subnets"}]}) == "a"
    assert r({"Fn::Base64": "hello"}) == "aGVsbG8="
    assert r({"Fn::GetAZs": ""}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert r({"Fn::ToJsonString": {"a": [1]}}) == '{"a":[1]}'


def test_conditions_and_if() -> None:
    assert r({"Fn::If": ["IsProd", "big", "small"]}) == "small"
    assert r({"Fn::If": ["IsProd", "big", "small"]}, stage="prod") == "big"
    assert resolver().condition("Both", "x") is True
    assert resolver().condition("Either", "x") is False
    assert resolver("prod").condition("Either", "x") is True
    with pytest.raises(TemplateError, match="refers to itself"):
        resolver().condition("Loop", "Resource X")


def test_no_value_removes_the_property() -> None:
    value = {"A": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]}, "B": [1, {"Ref": "AWS::NoValue"}, 2]}
    assert r(value) == {"B": [1, 2]}


def test_find_in_map() -> None:
    assert r({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 256
    assert r({"Fn::FindInMap": ["Sizes", "dev", "Memory", {"DefaultValue": 128}]}) == 128
    with pytest.raises(TemplateError, match=r"Fn::FindInMap found no value for \[Sizes, dev, Memory\]"):
        r({"Fn::FindInMap": ["Sizes", "dev", "Memory"]})


def test_errors_name_where_they_are() -> None:
    with pytest.raises(TemplateError, match="Resource X: Ref to 'Nope'"):
        r({"Ref": "Nope"})
    with pytest.raises(TemplateError, match="Resource X: Fn::GetAtt refers to 'Nope'"):
        r({"Fn::GetAtt": ["Nope", "Arn"]})
    with pytest.raises(TemplateError, match="Fn::ImportValue is not supported by localcloud"):
        r({"Fn::ImportValue": "shared"})
    with pytest.raises(TemplateError, match="condition 'Missing' is not defined"):
        r({"Fn::If": ["Missing", 1, 2]})


def test_parameter_overrides_both_forms() -> None:
    assert parse_overrides("Stage=prod Greeting='hi there'") == {"Stage": "prod", "Greeting": "hi there"}
    assert parse_overrides("ParameterKey=Stage,ParameterValue=prod ParameterKey=N,ParameterValue=3") == {
        "Stage": "prod",
        "N": "3",
    }
    assert parse_overrides("") == {}
    with pytest.raises(TemplateError, match="is not KEY=VALUE"):
        parse_overrides("justaword")


def test_parameters_defaults_checks_and_lists() -> None:
    template = {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "test", "AllowedValues": ["test", "prod"]},
            "Count": {"Type": "Number", "Default": 2, "MinValue": 1, "MaxValue": 5},
            "Names": {"Type": "CommaDelimitedList", "Default": "a,b"},
            "Flag": {"Type": "String", "Default": True},
            "Required": {"Type": "String"},
        }
    }
    values = resolve_parameters(template, {"Required": "x"})
    assert values == {"Stage": "test", "Count": "2", "Names": ["a", "b"], "Flag": "true", "Required": "x"}
    with pytest.raises(TemplateError, match=r"Parameters: \[Required\] must have values"):
        resolve_parameters(template, {})
    with pytest.raises(TemplateError, match="not one of the AllowedValues"):
        resolve_parameters(template, {"Required": "x", "Stage": "dev"})
    with pytest.raises(TemplateError, match="above MaxValue"):
        resolve_parameters(template, {"Required": "x", "Count": "9"})
    with pytest.raises(TemplateError, match="Nope given in LOCALCLOUD_PARAMETER_OVERRIDES"):
        resolve_parameters(template, {"Required": "x", "Nope": "1"})


# One documented example per intrinsic localcloud says it supports (CloudFormation's intrinsic
# function reference); the keys must be exactly SUPPORTED, so the list cannot drift from the code.
SUPPORTED_EXAMPLES: dict[str, tuple[Any, Any]] = {
    "Ref": ({"Ref": "Stage"}, "test"),
    "Condition": ({"Fn::If": ["Either", 1, 2]}, 2),
    "Fn::GetAtt": ({"Fn::GetAtt": ["Bucket", "Arn"]}, "arn:Bucket:Arn"),
    "Fn::Sub": ({"Fn::Sub": "${AWS::Region}-${Stage}"}, "eu-west-1-test"),
    "Fn::Join": ({"Fn::Join": [":", ["a", "b", "c"]]}, "a:b:c"),
    "Fn::Select": ({"Fn::Select": ["1", ["apples", "grapes", "oranges"]]}, "grapes"),
    "Fn::Split": ({"Fn::Split": ["|", "a|b|c"]}, ["a", "b", "c"]),
    "Fn::If": ({"Fn::If": ["IsTest", "t", "p"]}, "t"),
    "Fn::Equals": ({"Fn::Equals": ["a", "a"]}, True),
    "Fn::Not": ({"Fn::Not": [{"Fn::Equals": ["a", "a"]}]}, False),
    "Fn::And": ({"Fn::And": [{"Condition": "IsTest"}, {"Fn::Equals": ["a", "b"]}]}, False),
    "Fn::Or": ({"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "a"]}]}, True),
    "Fn::FindInMap": ({"Fn::FindInMap": ["Sizes", "prod", "Memory"]}, 1024),
    "Fn::Base64": ({"Fn::Base64": "AWS CloudFormation"}, "QVdTIENsb3VkRm9ybWF0aW9u"),
    "Fn::GetAZs": ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    "Fn::Length": ({"Fn::Length": [1, 2, 3]}, 3),
    "Fn::ToJsonString": ({"Fn::ToJsonString": {"key": "value"}}, '{"key":"value"}'),
}


def test_every_supported_intrinsic_resolves() -> None:
    assert set(SUPPORTED_EXAMPLES) == SUPPORTED
    for name, (expression, expected) in SUPPORTED_EXAMPLES.items():
        assert r(expression) == expected, name
