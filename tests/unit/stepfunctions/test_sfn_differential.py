"""Differential test: localcloud's Step Functions interpreter against moto's state-machine executor.

The interpreter's own tests are run once in a subprocess with ``SFN_CORPUS`` set, so that every machine
they run (definition, input, localcloud's outcome; see sfn_testkit.py) is written to a corpus. Each
case that a reference can replay (no fake Lambda functions, no fake clock, nothing random) is then run
by moto's executor (``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``, moto's port
of LocalStack's ASL interpreter) and the two outcomes are compared: status, then the output (succeeded)
or the error name (failed).

Where the two disagree, AWS's documentation decides; each known disagreement is listed in
``KNOWN_DISAGREEMENTS`` with the page that decides it. The list is asserted exactly: a new disagreement
fails, and so does one that went away (the list stays honest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
# The interpreter test modules whose machines a reference can replay (the others use fake Lambda
# functions or time).
SOURCES = [
    "test_sfn_choice.py",
    "test_sfn_history.py",
    "test_sfn_intrinsics.py",
    "test_sfn_io_processing.py",
    "test_sfn_states.py",
]
# Random by definition: no two implementations agree on them.
NONDETERMINISTIC = ("States.UUID", "States.MathRandom")
MINIMUM_CASES = 40

# Why each known disagreement is one, and the AWS page that decides it.
_ERRORS = "https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"
_INTRINSICS = "https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html"
OUTPUT_NOT_JSON = (
    "moto: DescribeExecution returns a string output unquoted, not as JSON text; AWS: 'output: The JSON "
    "output data of the execution'",
    "https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html",
)
INTRINSIC_FAILURE = (
    "moto: States.Runtime; AWS: a failed intrinsic function is States.IntrinsicFailure",
    _ERRORS,
)
FORMAT_ESCAPES = (
    "moto: fails on the escaped characters; AWS: ' { } and \\ are escaped with a backslash in States.Format",
    _INTRINSICS,
)
KNOWN_DISAGREEMENTS: dict[str, tuple[str, str]] = {
    "test_sfn_choice.py::test_doc_example_routes_private_22_to_value_in_twenties#0": OUTPUT_NOT_JSON,
    "test_sfn_choice.py::test_doc_example_routes_private_22_to_value_in_twenties#1": OUTPUT_NOT_JSON,
    "test_sfn_choice.py::test_doc_example_routes_private_22_to_value_in_twenties#2": OUTPUT_NOT_JSON,
    "test_sfn_choice.py::test_doc_example_routes_private_22_to_value_in_twenties#3": OUTPUT_NOT_JSON,
    "test_sfn_choice.py::test_choice_output_path_and_default#1": OUTPUT_NOT_JSON,
    "test_sfn_choice.py::test_doc_example_fails_when_the_variable_is_missing#0": (
        "moto: a Not rule on a missing variable matches; AWS: 'If the state input doesn't contain the "
        "$.type field, the execution fails'",
        "https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html",
    ),
    "test_sfn_choice.py::test_no_match_without_default_is_no_choice_matched#0": (
        "moto: States.Runtime; AWS: no matching rule and no Default raises States.NoChoiceMatched",
        _ERRORS,
    ),
    "test_sfn_intrinsics.py::test_array_examples#6": (
        "moto: refuses a negative step in States.ArrayRange(10, 1, -3); AWS's page puts no sign on the "
        "increment (undecided by the docs: localcloud counts down)",
        _INTRINSICS,
    ),
    **{f"test_sfn_intrinsics.py::test_array_validation#{n}": INTRINSIC_FAILURE for n in range(5)},
    "test_sfn_intrinsics.py::test_base64_examples#2": INTRINSIC_FAILURE,
    "test_sfn_intrinsics.py::test_format_escapes_and_value_types#0": FORMAT_ESCAPES,
    "test_sfn_intrinsics.py::test_format_escapes_and_value_types#1": (
        "moto: rejects the null literal as an intrinsic argument at CreateStateMachine; localcloud formats "
        "it as 'null' (undecided by the docs)",
        _INTRINSICS,
    ),
    "test_sfn_intrinsics.py::test_format_escapes_and_value_types#2": INTRINSIC_FAILURE,
    "test_sfn_intrinsics.py::test_hash_example_and_algorithms#3": INTRINSIC_FAILURE,
    "test_sfn_intrinsics.py::test_intrinsics_in_parameters_and_result_selector#1": INTRINSIC_FAILURE,
    "test_sfn_intrinsics.py::test_json_merge_example#1": INTRINSIC_FAILURE,
    "test_sfn_io_processing.py::test_context_object_fields#0": (
        "moto: the context object has no State.RetryCount; AWS lists State.RetryCount in it",
        "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html",
    ),
    "test_sfn_io_processing.py::test_indefinite_paths_in_parameters_return_lists#0": (
        "moto: a filter path that matches nothing fails; localcloud gives [] as an indefinite path yields a "
        "list (undecided by the docs)",
        "https://docs.aws.amazon.com/step-functions/latest/dg/input-output-inputpath-params.html",
    ),
    "test_sfn_io_processing.py::test_resultpath_into_a_non_object_fails_with_match_failure#0": (
        "moto: States.Runtime; AWS: a ResultPath that cannot be applied is States.ResultPathMatchFailure",
        _ERRORS,
    ),
    "test_sfn_states.py::test_map_items_path_must_be_an_array#0": (
        "moto: States.QueryEvaluationError, which AWS keeps for JSONata states; this is a JSONPath state, "
        "where a runtime failure is States.Runtime",
        _ERRORS,
    ),
}


def _corpus(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "corpus.jsonl"
    env = {**os.environ, "SFN_CORPUS": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(HERE / s) for s in SOURCES)],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    cases: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        case = json.loads(line)
        test = case["test"].split("tests/unit/stepfunctions/", 1)[-1]
        case["id"] = f"{test}#{seen[test]}"
        seen[test] += 1
        cases.append(case)
    return cases


def _replayable(case: dict[str, Any]) -> bool:
    text = json.dumps(case["definition"])
    return not (
        case["lambdas"]
        or case["clock"]
        or case["invalid"]
        or '"Task"' in text
        or any(name in text for name in NONDETERMINISTIC)
    )


def _moto_outcomes(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    import boto3
    from moto import mock_aws
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    results: dict[str, dict[str, Any]] = {}
    original = WaitFunction._wait_interval
    WaitFunction._wait_interval = lambda self, env, wait_seconds: None  # type: ignore[method-assign]
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
            client = boto3.client("stepfunctions", region_name="us-east-1")
            role = "arn:aws:iam::123456789012:role/machine-role"
            for n, case in enumerate(cases):
                try:
                    arn = client.create_state_machine(
                        name=f"m{n}", definition=json.dumps(case["definition"]), roleArn=role
                    )["stateMachineArn"]
                    execution = client.start_execution(
                        stateMachineArn=arn, name="run-1", input=json.dumps(case["input"])
                    )["executionArn"]
                except Exception as exc:  # moto refused the machine or its input
                    results[case["id"]] = {"status": "REJECTED", "error": type(exc).__name__}
                    continue
                deadline = time.monotonic() + 30
                while True:
                    described = client.describe_execution(executionArn=execution)
                    if described["status"] != "RUNNING" or time.monotonic() > deadline:
                        break
                    time.sleep(0.01)
                result: dict[str, Any] = {"status": described["status"]}
                if described["status"] == "SUCCEEDED":
                    raw = described.get("output", "null")
                    try:
                        result["output"] = json.loads(raw)
                    except ValueError:  # DescribeExecution's output must be JSON text
                        result["output"] = {"<not JSON>": raw}
                else:
                    result["error"] = described.get("error")
                    result["cause"] = described.get("cause")
                results[case["id"]] = result
    finally:
        WaitFunction._wait_interval = original  # type: ignore[method-assign]
    return results


def _differs(case: dict[str, Any], reference: dict[str, Any]) -> str | None:
    mine = "FAILED" if case["error"] else "SUCCEEDED"
    if reference["status"] != mine:
        return f"localcloud {mine} {case.get('error') or case['output']!r}; moto {reference}"
    if mine == "SUCCEEDED" and reference["output"] != case["output"]:
        return f"output: localcloud {case['output']!r}; moto {reference['output']!r}"
    if mine == "FAILED" and reference["error"] != case["error"]:
        return f"error: localcloud {case['error']}; moto {reference['error']}"
    return None


def test_interpreter_agrees_with_moto(tmp_path: Path) -> None:
    cases = [c for c in _corpus(tmp_path) if _replayable(c)]
    reference = _moto_outcomes(cases)
    disagreements = {c["id"]: d for c in cases if (d := _differs(c, reference[c["id"]]))}
    compared, agreed = len(cases), len(cases) - len(disagreements)
    print(
        f"\nsfn vs moto: {compared} cases compared, {agreed} agree, "
        f"{len(disagreements)} disagree ({len(KNOWN_DISAGREEMENTS)} documented)"
    )
    for case_id, difference in sorted(disagreements.items()):
        print(f"  {case_id}: {difference}")
    assert compared >= MINIMUM_CASES
    new = {k: v for k, v in disagreements.items() if k not in KNOWN_DISAGREEMENTS}
    assert not new, f"new disagreements with moto (decide each from AWS's docs): {json.dumps(new, indent=1)}"
    gone = set(KNOWN_DISAGREEMENTS) - set(disagreements)
    assert not gone, f"documented disagreements that no longer happen (remove them): {sorted(gone)}"
