"""Execution history events: AWS's types, ids, previousEventId chains (per Parallel branch / Map
iteration) and detail members."""

from __future__ import annotations

from sfn_testkit import FakeLambdas, run

from localcloud.stepfunctions.history import detail_key


def test_detail_keys_follow_the_api_names() -> None:
    assert detail_key("TaskStateEntered") == "stateEnteredEventDetails"
    assert detail_key("WaitStateExited") == "stateExitedEventDetails"
    assert detail_key("TaskScheduled") == "taskScheduledEventDetails"
    assert detail_key("LambdaFunctionSucceeded") == "lambdaFunctionSucceededEventDetails"
    assert detail_key("MapIterationStarted") == "mapIterationStartedEventDetails"
    assert detail_key("ExecutionFailed") == "executionFailedEventDetails"
    assert detail_key("ParallelStateStarted") is None


def test_linear_history_ids_and_details() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Result": {"x": 1}, "Next": "B"},
            "B": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:F",
                "Next": "C",
            },
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 2, "Next": "D"}]},
            "D": {"Type": "Succeed"},
        },
    }
    outcome = run(definition, {"in": True}, lambdas=FakeLambdas().add("F", lambda e: {"x": e["x"] + 1}))
    events = outcome.history.events
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e["previousEventId"] for e in events] == list(range(0, len(events)))
    assert events[0]["stateEnteredEventDetails"] == {
        "name": "A",
        "input": '{"in":true}',
        "inputDetails": {"truncated": False},
    }
    assert events[1]["stateExitedEventDetails"]["output"] == '{"x":1}'
    scheduled = events[3]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["resource"].endswith(":function:F") and scheduled["input"] == '{"x":1}'
    assert events[5]["lambdaFunctionSucceededEventDetails"]["output"] == '{"x":2}'
    assert all(isinstance(e["timestamp"], float) for e in events)


def test_parallel_branches_chain_their_own_events() -> None:
    branch = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Next": "Q"}, "Q": {"Type": "Pass", "End": True}},
    }
    outcome = run(
        {
            "StartAt": "Par",
            "States": {"Par": {"Type": "Parallel", "Branches": [branch, branch], "End": True}},
        },
        {},
    )
    events = outcome.history.events
    started = next(e for e in events if e["type"] == "ParallelStateStarted")
    firsts = [e for e in events if e["type"] == "PassStateEntered" and e["previousEventId"] == started["id"]]
    assert len(firsts) == 2  # each branch starts from ParallelStateStarted
    by_id = {e["id"]: e for e in events}
    for event in events:
        if event["type"] == "PassStateExited":
            assert by_id[event["previousEventId"]]["type"] == "PassStateEntered"


def test_map_iteration_events_name_the_state_and_index() -> None:
    outcome = run(
        {
            "StartAt": "M",
            "States": {
                "M": {
                    "Type": "Map",
                    "End": True,
                    "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                }
            },
        },
        [10, 20],
    )
    started = [
        e["mapIterationStartedEventDetails"]
        for e in outcome.history.events
        if e["type"] == "MapIterationStarted"
    ]
    assert sorted(d["index"] for d in started) == [0, 1] and {d["name"] for d in started} == {"M"}
    assert outcome.types.count("MapIterationSucceeded") == 2
