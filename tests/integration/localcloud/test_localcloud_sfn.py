"""Step Functions on a real ``localcloud up``: the test template's state machine runs its Lambdas;
boto3 and the AWS CLI drive executions; Lambda errors and timeouts look as they do on AWS; executions
survive a server crash."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from localcloud_testkit import ROLE, TEMPLATE, outputs, physical, wait_execution

from localcloud import cli
from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    with LocalCloudProcess(tmp_path_factory.mktemp("sfn") / "state", template=TEMPLATE) as proc:
        yield proc


def machine(lc: LocalCloudProcess, name: str, definition: dict) -> str:
    sfn = lc.client("stepfunctions")
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def history(lc: LocalCloudProcess, arn: str) -> list[dict]:
    return list(lc.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"])


def test_template_state_machine_succeeds(lc: LocalCloudProcess) -> None:
    sfn = lc.client("stepfunctions")
    arn = outputs(lc)["PipelineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name="ok-1", input=json.dumps({"a": 2, "b": 3}))
    done = wait_execution(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {
        "a": 2,
        "b": 3,
        "add": {"sum": 5},
        "echo": {"event": {"execution": "ok-1"}, "greeting": "hello"},
    }
    types = [e["type"] for e in history(lc, started["executionArn"])]
    assert types[:6] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
    ]
    assert "WaitStateEntered" in types and types[-1] == "ExecutionSucceeded"


def test_lambda_error_is_retried_caught_and_failed_with_its_cause(lc: LocalCloudProcess) -> None:
    sfn = lc.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=outputs(lc)["PipelineArn"], name="fail-1", input=json.dumps({"a": 1, "b": 1})
    )
    done = wait_execution(sfn, started["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "PipelineError"
    cause = json.loads(done["cause"])
    assert cause["errorType"] == "PipelineError" and cause["errorMessage"].startswith("cannot process")
    types = [e["type"] for e in history(lc, started["executionArn"])]
    assert types.count("LambdaFunctionFailed") == 2  # one retry
    assert types[-2:] == ["FailStateEntered", "ExecutionFailed"]


def test_retry_until_a_flaky_lambda_succeeds(lc: LocalCloudProcess, tmp_path: Path) -> None:
    arn = machine(
        lc,
        "flaky",
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "OutputPath": "$.Payload",
                    "End": True,
                    "Parameters": {"FunctionName": physical(lc, "FlakyFunction"), "Payload.$": "$"},
                    "Retry": [
                        {
                            "ErrorEquals": ["PipelineError"],
                            "IntervalSeconds": 1,
                            "BackoffRate": 1,
                            "MaxAttempts": 3,
                        }
                    ],
                }
            },
        },
    )
    sfn = lc.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps({"dir": str(tmp_path), "key": "flaky", "failures": 2})
    )
    done = wait_execution(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"attempts": 3}


def test_lambda_timeout_and_task_timeout_as_step_functions_sees_them(lc: LocalCloudProcess) -> None:
    slow = physical(lc, "SlowFunction")
    sfn = lc.client("stepfunctions")
    lambda_timeout = machine(
        lc,
        "lambda-timeout",
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "End": True,
                    "Parameters": {"FunctionName": slow, "Payload": {"seconds": 30}},
                }
            },
        },
    )
    task_timeout = machine(
        lc,
        "task-timeout",
        {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": f"arn:aws:lambda:us-east-1:000000000000:function:{slow}",
                    "TimeoutSeconds": 1,
                    "End": True,
                }
            },
        },
    )
    first = sfn.start_execution(stateMachineArn=lambda_timeout, input=json.dumps({}))
    second = sfn.start_execution(stateMachineArn=task_timeout, input=json.dumps({"seconds": 1.8}))
    done = wait_execution(sfn, first["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in json.loads(done["cause"])["errorMessage"]
    done = wait_execution(sfn, second["executionArn"])
    assert done["status"] == "FAILED" and done["error"] == "States.Timeout"
    assert "LambdaFunctionTimedOut" in [e["type"] for e in history(lc, second["executionArn"])]


def test_invalid_definition_is_rejected_with_aws_error(lc: LocalCloudProcess) -> None:
    with pytest.raises(ClientError) as err:
        machine(lc, "broken", {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    assert err.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "Missing 'Next' target: Nowhere" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "more than 256 levels deep"),  # 200 KB, under the size limit
        ('{"a":' * 300 + "1" + "}" * 300, "more than 256 levels deep"),
        ("{not json", "Invalid State Machine Execution Input"),
    ],
    ids=["100000-deep", "300-deep", "not-json"],
)
def test_unusable_input_is_invalid_execution_input_not_a_500(
    lc: LocalCloudProcess, text: str, message: str
) -> None:
    sfn = lc.client("stepfunctions")
    arn = machine(lc, "pass-through", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(ClientError) as err:
        sfn.start_execution(stateMachineArn=arn, input=text)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Error"]["Code"] == "InvalidExecutionInput"
    assert message in err.value.response["Error"]["Message"]


def test_any_json_value_is_a_valid_input(lc: LocalCloudProcess) -> None:
    """As on AWS, StartExecution takes arrays and strings too: the state machine decides."""
    sfn = lc.client("stepfunctions")
    arn = machine(lc, "pass-through", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for value in ([1, 2], "dogs", 42, [[[[1]]]]):
        started = sfn.start_execution(stateMachineArn=arn, input=json.dumps(value))
        done = wait_execution(sfn, started["executionArn"])
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == value


def test_aws_cli_create_start_describe(lc: LocalCloudProcess, tmp_path: Path) -> None:
    definition = tmp_path / "machine.json"
    definition.write_text(
        json.dumps(
            {
                "StartAt": "Hello",
                "States": {
                    "Hello": {
                        "Type": "Pass",
                        "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"},
                        "End": True,
                    }
                },
            }
        )
    )

    def aws(*args: str) -> dict:
        result = subprocess.run(
            [str(REPO / ".venv/bin/aws"), "stepfunctions", *args],
            env=lc.env(),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout)) if result.stdout.strip() else {}

    arn = aws(
        "create-state-machine",
        "--name",
        "cli-machine",
        "--definition",
        f"file://{definition}",
        "--role-arn",
        ROLE,
    )["stateMachineArn"]
    execution = aws("start-execution", "--state-machine-arn", arn, "--input", '{"who": "cli"}')[
        "executionArn"
    ]
    deadline = time.monotonic() + 30
    while (described := aws("describe-execution", "--execution-arn", execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"greeting": "hello cli"}
    listed = aws("list-executions", "--state-machine-arn", arn)["executions"]
    assert [e["executionArn"] for e in listed] == [execution]


def test_execution_resumes_after_the_server_is_killed(lc: LocalCloudProcess) -> None:
    arn = machine(
        lc,
        "survivor",
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "Seconds": 3, "Next": "Add"},
                "Add": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "OutputPath": "$.Payload",
                    "Parameters": {"FunctionName": "app-add", "Payload": {"a": 40, "b": 2}},
                    "End": True,
                },
            },
        },
    )
    sfn = lc.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    time.sleep(1)
    lc.kill()  # SIGKILL mid-Wait: nothing gets recorded
    lc.start()
    done = wait_execution(lc.client("stepfunctions"), execution)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == 42
    types = [e["type"] for e in history(lc, execution)]
    assert types.count("WaitStateEntered") == 1 and types[-1] == "ExecutionSucceeded"


def test_status_table_lists_executions_with_their_current_state(lc: LocalCloudProcess) -> None:
    from rich.console import Console

    from localcloud.stepfunctions.status_table import executions_section

    arn = machine(
        lc,
        "status-demo",
        {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 30, "End": True}}},
    )
    sfn = lc.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, name="in-progress")["executionArn"]
    time.sleep(0.3)
    console = Console(record=True, width=200)
    console.print(executions_section({"stepfunctions": sfn}).body)
    text = console.export_text()
    assert "Step Functions executions of status-demo" in text  # one table per state machine
    row = next(line for line in text.splitlines() if "in-progress" in line)
    assert "RUNNING" in row and "Sleep" in row
    assert "fail-1" not in text or "PipelineError" in text
    sfn.stop_execution(executionArn=execution)


def test_start_execution_defaults_to_the_deployed_templates_state_machine(
    lc: LocalCloudProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`localcloud start-execution` without --state-machine-arn starts the template's one state
    machine, whatever the template names its outputs (the fixture app has no StateMachineArn output)."""
    (tmp_path / "in.json").write_text(json.dumps({"a": 2, "b": 3}))
    argv = ["start-execution", "--input", str(tmp_path / "in.json"), "--name", "cli-default"]
    code = cli.main([*argv, "--port", str(lc.port), "--state-dir", str(lc.state_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    expected = physical(lc, "Pipeline").replace(":stateMachine:", ":execution:") + ":cli-default"
    assert out.strip() == expected
    assert wait_execution(lc.client("stepfunctions"), expected)["status"] in ("SUCCEEDED", "FAILED")
