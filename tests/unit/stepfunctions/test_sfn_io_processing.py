"""Input and output processing (InputPath, Parameters, ResultSelector, ResultPath, OutputPath, context
object) with the examples of the Step Functions developer guide as test vectors."""

from __future__ import annotations

from sfn_testkit import FakeLambdas, FunctionError, run, single

HELLO = "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction"


def hello_lambdas() -> FakeLambdas:
    # The tutorial's HelloFunction: returns "Hello, <who>!"
    return FakeLambdas().add("HelloFunction", lambda event: f"Hello, {event['who']}!")


def test_inputpath_resultpath_outputpath_example() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-example.html
    definition = {
        "StartAt": "HelloWorld",
        "States": {
            "HelloWorld": {
                "Type": "Task",
                "Resource": HELLO,
                "InputPath": "$.lambda",
                "ResultPath": "$.data.lambdaresult",
                "OutputPath": "$.data",
                "End": True,
            }
        },
    }
    data = {
        "comment": "An input comment.",
        "data": {"val1": 23, "val2": 17},
        "extra": "foo",
        "lambda": {"who": "AWS Step Functions"},
    }
    lambdas = hello_lambdas()
    outcome = run(definition, data, lambdas=lambdas)
    assert lambdas.calls == [("HelloFunction", {"who": "AWS Step Functions"})]
    assert outcome.output == {"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}


def test_numbers_to_add_example_resultpath_onto_raw_input() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html (paths section)
    lambdas = FakeLambdas().add("Add", lambda n: n["val1"] + n["val2"])
    state = {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Add",
        "InputPath": "$.numbers",
        "ResultPath": "$.sum",
        "OutputPath": "$",
    }
    data = {"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}}
    assert single(state, data, lambdas=lambdas).output == {**data, "sum": 7}
    state["OutputPath"] = "$.sum"
    assert single(state, {"numbers": {"val1": 3, "val2": 4}}, lambdas=lambdas).output == 7


def test_inputpath_example() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html#input-output-inputpath
    data = {
        "comment": "Example for InputPath.",
        "dataset1": {"val1": 1, "val2": 2, "val3": 3},
        "dataset2": {"val1": "a", "val2": "b", "val3": "c"},
    }
    assert single({"Type": "Pass", "InputPath": "$.dataset2"}, data).output == {
        "val1": "a",
        "val2": "b",
        "val3": "c",
    }
    # "A path can yield a selection of values": $.a[0:2] -> [1, 2]
    assert single({"Type": "Pass", "InputPath": "$.a[0:2]"}, {"a": [1, 2, 3, 4]}).output == [1, 2]


def test_parameters_example() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html#input-output-parameters
    data = {
        "comment": "Example for Parameters.",
        "product": {
            "details": {"color": "blue", "size": "small", "material": "cotton"},
            "availability": "in stock",
            "sku": "2317",
            "cost": "$23",
        },
    }
    parameters = {
        "comment": "Selecting what I care about.",
        "MyDetails": {
            "size.$": "$.product.details.size",
            "exists.$": "$.product.availability",
            "StaticValue": "foo",
        },
    }
    assert single({"Type": "Pass", "Parameters": parameters}, data).output == {
        "comment": "Selecting what I care about.",
        "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
    }


def test_resultselector_example() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html#input-output-resultselector
    # (a task result like the EMR createCluster.sync one, filtered by ResultSelector, placed by ResultPath)
    result = {
        "resourceType": "elasticmapreduce",
        "resource": "createCluster.sync",
        "output": {
            "SdkHttpMetadata": {"HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": "1234"},
            "ClusterId": "AKIAIOSFODNN7EXAMPLE",
        },
    }
    lambdas = FakeLambdas().add("Emr", lambda _event: result)
    state = {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Emr",
        "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
        "ResultPath": "$.EMROutput",
    }
    outcome = single(state, {"comment": "x"}, lambdas=lambdas)
    assert outcome.output == {
        "comment": "x",
        "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"},
    }


def test_resultpath_examples() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultpath.html
    data = {
        "comment": "This is a test of the input and output of a Task state.",
        "details": "Default example",
        "who": "AWS Step Functions",
    }
    task = {"Type": "Task", "Resource": HELLO}
    assert single(task, data, lambdas=hello_lambdas()).output == "Hello, AWS Step Functions!"
    assert single({**task, "ResultPath": "$.taskresult"}, data, lambdas=hello_lambdas()).output == {
        **data,
        "taskresult": "Hello, AWS Step Functions!",
    }
    nested = {
        "comment": "An input comment.",
        "strings": {"string1": "foo", "string2": "bar", "string3": "baz"},
        "who": "AWS Step Functions",
    }
    out = single({**task, "ResultPath": "$.strings.lambdaresult"}, nested, lambdas=hello_lambdas()).output
    assert out["strings"] == {
        "string1": "foo",
        "string2": "bar",
        "string3": "baz",
        "lambdaresult": "Hello, AWS Step Functions!",
    }
    out = single({**task, "ResultPath": "$.comment"}, data, lambdas=hello_lambdas()).output
    assert out == {**data, "comment": "Hello, AWS Step Functions!"}
    assert single({**task, "ResultPath": None}, data, lambdas=hello_lambdas()).output == data


def test_catch_resultpath_keeps_input_with_error() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultpath.html#input-output-resultpath-catch
    lambdas = FakeLambdas().add(
        "Boom", lambda _e: (_ for _ in ()).throw(FunctionError("Error here", "broken"))
    )
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Boom",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "NextTask", "ResultPath": "$.error"}],
                "End": True,
            },
            "NextTask": {"Type": "Pass", "End": True},
        },
    }
    out = run(definition, {"foo": "bar"}, lambdas=lambdas).output
    assert out["foo"] == "bar"
    assert out["error"]["Error"] == "Error here"
    assert '"errorMessage": "broken"' in out["error"]["Cause"]


def test_pass_result_example() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-pass-state.html
    state = {
        "Type": "Pass",
        "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
        "ResultPath": "$.coords",
    }
    assert single(state, {"georefOf": "Home"}).output == {
        "georefOf": "Home",
        "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
    }


def test_null_paths_give_empty_object() -> None:
    assert single({"Type": "Pass", "InputPath": None}, {"a": 1}).output == {}
    assert single({"Type": "Pass", "OutputPath": None}, {"a": 1}).output == {}


def test_missing_inputpath_is_a_runtime_error_naming_the_path() -> None:
    outcome = single({"Type": "Pass", "InputPath": "$.nope"}, {"a": 1})
    assert outcome.error == "States.Runtime"
    assert "'$.nope'" in (outcome.cause or "") and "InputPath" in (outcome.cause or "")


def test_missing_parameter_path_is_a_runtime_error() -> None:
    outcome = single({"Type": "Pass", "Parameters": {"x.$": "$.missing"}}, {"a": 1})
    assert outcome.error == "States.Runtime"
    assert "x.$" in (outcome.cause or "")


def test_resultpath_into_a_non_object_fails_with_match_failure() -> None:
    outcome = single({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b"}, {"a": "text"})
    assert outcome.error == "States.ResultPathMatchFailure"


def test_indefinite_paths_in_parameters_return_lists() -> None:
    data = {"items": [{"id": 1, "ok": True}, {"id": 2, "ok": False}, {"id": 3, "ok": True}]}
    params = {
        "ids.$": "$.items[*].id",
        "okIds.$": "$.items[?(@.ok == true)].id",
        "first.$": "$.items[0].id",
        "none.$": "$.items[?(@.id > 10)].id",
    }
    assert single({"Type": "Pass", "Parameters": params}, data).output == {
        "ids": [1, 2, 3],
        "okIds": [1, 3],
        "first": 1,
        "none": [],
    }


def test_context_object_fields() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
    params = {
        "id.$": "$$.Execution.Id",
        "name.$": "$$.Execution.Name",
        "input.$": "$$.Execution.Input",
        "start.$": "$$.Execution.StartTime",
        "state.$": "$$.State.Name",
        "entered.$": "$$.State.EnteredTime",
        "retries.$": "$$.State.RetryCount",
        "machine.$": "$$.StateMachine.Id",
        "machineName.$": "$$.StateMachine.Name",
    }
    out = single({"Type": "Pass", "Parameters": params}, {"key": "value"}).output
    assert out["id"] == "arn:aws:states:us-east-1:123456789012:execution:machine:run-1"
    assert out["name"] == "run-1"
    assert out["input"] == {"key": "value"}
    assert out["start"] == "2019-03-26T20:14:13.192Z"
    assert out["state"] == "S"
    assert out["entered"].endswith("Z") and "T" in out["entered"]
    assert out["retries"] == 0
    assert out["machine"] == "arn:aws:states:us-east-1:123456789012:stateMachine:machine"
    assert out["machineName"] == "machine"


def test_task_token_is_in_the_context_of_task_states() -> None:
    lambdas = FakeLambdas().add("F", lambda event: event)
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "F", "Payload": {"token.$": "$$.Task.Token"}},
        "OutputPath": "$.Payload",
    }
    out = single(state, {}, lambdas=lambdas).output
    assert isinstance(out["token"], str) and len(out["token"]) >= 16


def test_map_context_index_and_value_example() -> None:
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html#contextobject-map
    definition = {
        "StartAt": "ExampleMapState",
        "States": {
            "ExampleMapState": {
                "Type": "Map",
                "Parameters": {"ContextIndex.$": "$$.Map.Item.Index", "ContextValue.$": "$$.Map.Item.Value"},
                "Iterator": {"StartAt": "TestPass", "States": {"TestPass": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }
    data = [{"who": "bob"}, {"who": "meg"}, {"who": "joe"}]
    assert run(definition, data).output == [
        {"ContextValue": {"who": "bob"}, "ContextIndex": 0},
        {"ContextValue": {"who": "meg"}, "ContextIndex": 1},
        {"ContextValue": {"who": "joe"}, "ContextIndex": 2},
    ]


def test_lambda_invoke_result_shape_and_payload_selection() -> None:
    lambdas = FakeLambdas().add("Fn", lambda event: {"doubled": event["n"] * 2})
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:Fn",
            "Payload": {"n.$": "$.n"},
        },
    }
    out = single(state, {"n": 21}, lambdas=lambdas).output
    assert out["Payload"] == {"doubled": 42}
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["SdkResponseMetadata"]["RequestId"] == "req-1"
