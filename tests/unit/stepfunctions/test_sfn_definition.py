"""Definition validation at CreateStateMachine time: AWS's ``InvalidDefinition`` with a message naming
the problem and where it is."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from localcloud.errors import AwsError
from localcloud.stepfunctions.definition import parse_definition
from localcloud.template.loader import load_template

REPO = Path(__file__).resolve().parents[3]


def problems(definition: Any) -> str:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    with pytest.raises(AwsError) as err:
        parse_definition(text)
    assert err.value.code == "InvalidDefinition"
    assert err.value.message.startswith("Invalid State Machine Definition: '")
    return err.value.message


def machine(**states: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def test_valid_definitions_pass() -> None:
    fixture = (REPO / "tests/fixtures/app/statemachine/pipeline.asl.json").read_text()
    substituted = re.sub(r"\$\{[A-Za-z]+\}", "arn:aws:lambda:us-east-1:000000000000:function:f", fixture)
    assert parse_definition(substituted)["StartAt"] == "Add"
    assert (
        parse_definition(json.dumps(machine(A={"Type": "Pass", "End": True})))["States"]["A"]["Type"]
        == "Pass"
    )


def test_the_apps_state_machine_is_valid() -> None:
    """statemachine/pipeline.asl.json, with template.yaml's DefinitionSubstitutions filled in as a
    deployment does, is a valid definition; every placeholder it uses is one the template provides."""
    text = (REPO / "statemachine/pipeline.asl.json").read_text()
    template = load_template(REPO / "template.yaml")
    machine_resource = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"
    )
    provided = set(machine_resource["Properties"]["DefinitionSubstitutions"])
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    assert used and used <= provided, f"placeholders the template does not provide: {used - provided}"
    substituted = re.sub(
        r"\$\{([A-Za-z0-9]+)\}",
        lambda m: "aws" if m[1] == "Partition" else f"arn:aws:lambda:us-east-1:000000000000:function:{m[1]}",
        text,
    )
    parsed = parse_definition(substituted)
    assert parsed["StartAt"] == json.loads(text)["StartAt"]
    assert parsed["States"].keys() == json.loads(text)["States"].keys()


def test_invalid_json() -> None:
    assert "INVALID_JSON_DESCRIPTION" in problems('{"StartAt": "A", "States": {')


def test_unknown_state_type() -> None:
    message = problems(machine(A={"Type": "Paas", "End": True}))
    assert "SCHEMA_VALIDATION_FAILED" in message and "/States/A/Type" in message and "Pass" in message


def test_missing_next_and_end() -> None:
    message = problems(machine(A={"Type": "Pass"}))
    assert "Either 'Next' or 'End: true' is required" in message and "at /States/A" in message


def test_next_pointing_nowhere() -> None:
    message = problems(machine(A={"Type": "Pass", "Next": "Nowhere"}))
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/A/Next" in message


def test_start_at_pointing_nowhere() -> None:
    assert "Missing 'Next' target: B at /StartAt" in problems(
        {"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}
    )


def test_unreachable_state() -> None:
    message = problems(machine(A={"Type": "Succeed"}, Orphan={"Type": "Succeed"}))
    assert 'State "Orphan" is not reachable' in message


def test_unknown_field_is_reported_with_its_location() -> None:
    message = problems(machine(A={"Type": "Pass", "End": True, "Nxt": "A"}))
    assert "Field 'Nxt' is not supported at /States/A/Nxt" in message


def test_bad_jsonpath_and_reference_path() -> None:
    assert "'InputPath' must be a valid JSONPath" in problems(
        machine(A={"Type": "Pass", "End": True, "InputPath": "foo"})
    )
    message = problems(machine(A={"Type": "Pass", "End": True, "ResultPath": "$.a[*]"}))
    assert "'ResultPath' must be a valid ReferencePath at /States/A/ResultPath" in message


def test_bad_parameters_path_and_intrinsic() -> None:
    message = problems(machine(A={"Type": "Pass", "End": True, "Parameters": {"x.$": "nope"}}))
    assert "/States/A/Parameters/x.$" in message
    message = problems(machine(A={"Type": "Pass", "End": True, "Parameters": {"x.$": "States.Nope(1)"}}))
    assert "unknown function 'States.Nope'" in message


def test_choice_rules() -> None:
    message = problems(
        machine(
            C={"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "1", "Next": "D"}]},
            D={"Type": "Succeed"},
        )
    )
    assert "'NumericEquals' must be a NUMBER at /States/C/Choices[0]/NumericEquals" in message
    message = problems(
        machine(C={"Type": "Choice", "Choices": [{"Variable": "$.x", "Next": "D"}]}, D={"Type": "Succeed"})
    )
    assert "exactly one comparison operator" in message
    message = problems(
        machine(
            C={
                "Type": "Choice",
                "Choices": [{"Not": {"Variable": "$.x", "IsNull": True, "Next": "D"}, "Next": "D"}],
            },
            D={"Type": "Succeed"},
        )
    )
    assert "Nested Choice Rules must not have a 'Next' field" in message
    message = problems(machine(C={"Type": "Choice", "Choices": []}))
    assert "non-empty array of Choice Rules" in message
    message = problems(
        machine(
            C={
                "Type": "Choice",
                "Choices": [{"Variable": "$.t", "TimestampEquals": "yesterday", "Next": "D"}],
            },
            D={"Type": "Succeed"},
        )
    )
    assert "valid ISO-8601 timestamp" in message


def test_wait_needs_exactly_one_duration() -> None:
    assert "Exactly one of these fields is required" in problems(machine(W={"Type": "Wait", "End": True}))
    message = problems(machine(W={"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}))
    assert "mutually exclusive" in message
    assert "NON_NEGATIVE_INTEGER" in problems(machine(W={"Type": "Wait", "Seconds": -1, "End": True}))


def test_retry_and_catch_rules() -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    message = problems(
        machine(T={**task, "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})
    )
    assert "'States.ALL' must appear alone" in message
    message = problems(machine(T={**task, "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}))
    assert "BackoffRate" in message
    message = problems(machine(T={**task, "Catch": [{"ErrorEquals": ["X"], "Next": "Gone"}]}))
    assert "Missing 'Next' target: Gone at /States/T/Catch[0]/Next" in message
    message = problems(machine(T={**task, "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]}))
    assert "JitterStrategy" in message


def test_task_resource_must_be_an_arn() -> None:
    message = problems(machine(T={"Type": "Task", "Resource": "my-function", "End": True}))
    assert "'Resource' must be a valid ARN at /States/T/Resource" in message


def test_task_timeouts() -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    assert "POSITIVE_INTEGER" in problems(machine(T={**task, "TimeoutSeconds": 0}))
    message = problems(machine(T={**task, "TimeoutSeconds": 5, "HeartbeatSeconds": 5}))
    assert "'HeartbeatSeconds' must be less than" in message


def test_parallel_and_map_are_checked_recursively() -> None:
    message = problems(
        machine(
            P={
                "Type": "Parallel",
                "End": True,
                "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Outside"}}}],
            },
            Outside={"Type": "Succeed"},
        )
    )
    assert "Missing 'Next' target: Outside at /States/P/Branches[0]/States/X/Next" in message
    message = problems(machine(M={"Type": "Map", "End": True}))
    assert "Iterator, ItemProcessor" in message


def test_unsupported_features_say_so() -> None:
    message = problems({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    assert "JSONata" in message and "not supported by localcloud" in message


def test_every_problem_is_listed() -> None:
    message = problems(machine(A={"Type": "Pass", "Next": "B1"}, B={"Type": "Wait", "End": True}))
    assert "Missing 'Next' target: B1" in message and "Exactly one of these fields" in message
