"""CloudWatch Logs over the files localcloud writes, through boto3 and the AWS CLI (a real server).

Log files are written where the services write them (``localcloud.logs.log_path``), then read back
with the calls users and the sagemaker SDK make: DescribeLogGroups/DescribeLogStreams, GetLogEvents
paging (the SDK reads forward until a call returns no events), FilterLogEvents with terms.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from localcloud.logs import TRAINING_JOBS, log_path
from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow

JOB_STREAM = "tiny-job/algo-1-1764000000"
ENDPOINT_GROUP = "/aws/sagemaker/Endpoints/tiny-endpoint"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("cwlogs") / "state"
    log_path(state, TRAINING_JOBS, JOB_STREAM).write_text("starting\nepoch 1 loss=0.9\n\nERROR disk full\n")
    log_path(state, TRAINING_JOBS, "other-job/algo-1-1764000001").write_text("other job line\n")
    log_path(state, ENDPOINT_GROUP, "AllTraffic/i-0123").write_text("model server up\n")
    with LocalCloudProcess(state) as lc:
        yield lc


def _aws(cloud: LocalCloudProcess, *args: str) -> dict:
    done = subprocess.run(
        [str(REPO / ".venv/bin/aws"), *args, "--output", "json"],
        env=cloud.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _events(logs, stream: str = JOB_STREAM, **kwargs) -> dict:
    return logs.get_log_events(logGroupName=TRAINING_JOBS, logStreamName=stream, **kwargs)


def test_groups_and_streams_keep_aws_names_including_slashes_in_stream_names(cloud) -> None:
    logs = cloud.client("logs")
    groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
    assert {TRAINING_JOBS, ENDPOINT_GROUP} <= set(groups)
    assert groups[TRAINING_JOBS]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{TRAINING_JOBS}:*"
    prefixed = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/Endpoints")["logGroups"]
    assert [g["logGroupName"] for g in prefixed] == [ENDPOINT_GROUP]

    streams = logs.describe_log_streams(logGroupName=TRAINING_JOBS)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["other-job/algo-1-1764000001", JOB_STREAM]
    # the sagemaker SDK's call for a job's streams
    mine = logs.describe_log_streams(
        logGroupName=TRAINING_JOBS, logStreamNamePrefix="tiny-job/", orderBy="LogStreamName", limit=1
    )
    assert [s["logStreamName"] for s in mine["logStreams"]] == [JOB_STREAM]
    assert "nextToken" not in mine  # the SDK loops while nextToken is present
    assert mine["logStreams"][0]["firstEventTimestamp"] <= mine["logStreams"][0]["lastEventTimestamp"]


def test_get_log_events_reads_forward_and_returns_the_same_token_at_the_end(cloud) -> None:
    logs = cloud.client("logs")
    first = _events(logs, startFromHead=True, limit=2)
    assert [e["message"] for e in first["events"]] == ["starting", "epoch 1 loss=0.9"]
    second = _events(logs, startFromHead=True, nextToken=first["nextForwardToken"])
    assert [e["message"] for e in second["events"]] == ["ERROR disk full"]  # the empty line is no event
    end = _events(logs, startFromHead=True, nextToken=second["nextForwardToken"])
    assert end["events"] == []
    assert end["nextForwardToken"] == second["nextForwardToken"]
    # without startFromHead: the newest events, and a backward token to page towards the head
    tail = _events(logs, limit=1)
    assert [e["message"] for e in tail["events"]] == ["ERROR disk full"]
    back = _events(logs, limit=5, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == ["starting", "epoch 1 loss=0.9"]


def test_lines_written_later_get_later_timestamps_that_never_change(cloud) -> None:
    logs = cloud.client("logs")
    before = _events(logs, startFromHead=True)["events"]
    time.sleep(1.1)
    path = log_path(cloud.state_dir, TRAINING_JOBS, JOB_STREAM)
    with path.open("a") as out:
        out.write("epoch 2 loss=0.5\n")
    time.sleep(1.5)  # the index poller notes the write; reading would do so as well
    after = _events(logs, startFromHead=True)["events"]
    assert after[: len(before)] == before
    assert after[-1]["message"] == "epoch 2 loss=0.5"
    assert after[-1]["timestamp"] > before[-1]["timestamp"]
    assert abs(after[-1]["timestamp"] / 1000 - path.stat().st_mtime) < 1.0
    # the sagemaker SDK resumes from startTime = the last timestamp it printed
    since = _events(logs, startFromHead=True, startTime=after[-1]["timestamp"])["events"]
    assert [e["message"] for e in since] == ["epoch 2 loss=0.5"]
    # timestamps survive a restart of the server
    cloud.stop()
    cloud.start()
    assert _events(cloud.client("logs"), startFromHead=True)["events"] == after


def test_filter_log_events_terms_prefix_and_paging(cloud) -> None:
    logs = cloud.client("logs")
    found = logs.filter_log_events(logGroupName=TRAINING_JOBS, filterPattern="ERROR")["events"]
    assert [(e["logStreamName"], e["message"]) for e in found] == [(JOB_STREAM, "ERROR disk full")]
    phrase = logs.filter_log_events(logGroupName=TRAINING_JOBS, filterPattern='"job line"')["events"]
    assert [e["message"] for e in phrase] == ["other job line"]
    excluded = logs.filter_log_events(
        logGroupName=TRAINING_JOBS, logStreamNamePrefix="tiny-job/", filterPattern="?loss ?ERROR -epoch"
    )["events"]
    assert [e["message"] for e in excluded] == ["ERROR disk full"]
    messages, token, pages = [], None, 0
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.filter_log_events(
            logGroupName=TRAINING_JOBS, logStreamNamePrefix="tiny-job/", limit=1, **kwargs
        )
        messages += [e["message"] for e in page["events"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    all_at_once = logs.filter_log_events(logGroupName=TRAINING_JOBS, logStreamNamePrefix="tiny-job/")
    assert messages == [e["message"] for e in all_at_once["events"]]
    assert pages == len(messages) >= 3
    # what `aws logs tail GROUP --log-stream-name-prefix P` (CLI v2) sends: the paginator, interleaved,
    # startTime ten minutes back
    tail = logs.get_paginator("filter_log_events").paginate(
        logGroupName=TRAINING_JOBS,
        logStreamNamePrefix="tiny-job/",
        interleaved=True,
        startTime=int((time.time() - 600) * 1000),
        PaginationConfig={"PageSize": 1},
    )
    assert [e["message"] for page in tail for e in page["events"]] == messages


def test_clear_errors_for_missing_resources_and_unsupported_requests(cloud) -> None:
    logs = cloud.client("logs")
    with pytest.raises(ClientError) as info:
        logs.describe_log_streams(logGroupName="/aws/lambda/missing")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        _events(logs, stream="tiny-job/algo-9")
    assert info.value.response["Error"]["Message"] == "The specified log stream does not exist."
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName=TRAINING_JOBS, filterPattern="{ $.level = 1 }")
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "not supported by localcloud" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:
        logs.put_retention_policy(logGroupName=TRAINING_JOBS, retentionInDays=1)
    assert info.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "not supported by localcloud" in info.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as info:  # botocore's model constraints, checked server-side
        logs.describe_log_streams(logGroupName=TRAINING_JOBS, limit=51)
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_aws_cli_reads_streams_and_events(cloud) -> None:
    streams = _aws(cloud, "logs", "describe-log-streams", "--log-group-name", TRAINING_JOBS)
    assert JOB_STREAM in [s["logStreamName"] for s in streams["logStreams"]]
    # `aws logs tail GROUP --log-stream-name-prefix JOB` (CLI v2) is FilterLogEvents with a prefix
    events = _aws(
        cloud,
        "logs",
        "filter-log-events",
        "--log-group-name",
        TRAINING_JOBS,
        "--log-stream-name-prefix",
        "tiny-job",
    )
    assert "ERROR disk full" in [e["message"] for e in events["events"]]
    got = _aws(
        cloud, "logs", "get-log-events", "--log-group-name", ENDPOINT_GROUP,
        "--log-stream-name", "AllTraffic/i-0123", "--start-from-head",
    )  # fmt: skip
    assert [e["message"] for e in got["events"]] == ["model server up"]


def test_executions_log_to_the_state_machines_logging_destination(cloud) -> None:
    group = "/aws/vendedlogs/states/tiny-machine"
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="tiny-machine",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::000000000000:role/sfn",
        loggingConfiguration={
            "level": "ALL",
            "includeExecutionData": True,
            "destinations": [
                {
                    "cloudWatchLogsLogGroup": {
                        "logGroupArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:*"
                    }
                }
            ],
        },
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="run-1", input="{}")["executionArn"]
    for _ in range(100):
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            break
        time.sleep(0.1)
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["run-1"]
    events = logs.get_log_events(logGroupName=group, logStreamName="run-1", startFromHead=True)["events"]
    types = [json.loads(e["message"])["type"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"


def _aws_cli_v2() -> str | None:
    """An AWS CLI v2 (``aws logs tail`` exists only there); .ci/run installs Debian's."""
    for candidate in ("/usr/bin/aws", "/usr/local/bin/aws", shutil.which("aws")):
        if not candidate or not shutil.which(candidate):
            continue
        done = subprocess.run([candidate, "--version"], capture_output=True, text=True, check=False)
        if done.stdout.startswith("aws-cli/2."):
            return candidate
    return None


def test_aws_cli_v2_logs_tail_follows_one_jobs_streams(cloud) -> None:
    aws = _aws_cli_v2()
    if aws is None:
        pytest.skip("no AWS CLI v2 on this machine (`aws logs tail` is v2 only; .ci/run installs it)")
    done = subprocess.run(
        # --endpoint-url: Debian's v2.9 predates the AWS_ENDPOINT_URL variable
        [
            *(aws, "logs", "tail", TRAINING_JOBS, "--log-stream-name-prefix", "tiny-job/"),
            *("--since", "1d", "--format", "short", "--endpoint-url", cloud.edge_url),
        ],
        env=cloud.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.strip()]
    # this job's lines in order (another test may append "epoch 2"); none of other-job's
    assert lines[:3] == ["starting", "epoch 1 loss=0.9", "ERROR disk full"], done.stdout
    assert "other job line" not in done.stdout
