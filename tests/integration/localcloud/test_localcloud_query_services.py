"""STS, IAM and CloudFormation (AWS's query protocol) on a real ``localcloud up`` of the app's
template, through boto3 and the AWS CLI, plus the README's one-liner that reads the outputs."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.localcloud_proc import REPO, LocalCloudProcess

pytestmark = pytest.mark.slow

STACK = "image-classifier-pipeline"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    with LocalCloudProcess(tmp_path_factory.mktemp("query") / "state", template=REPO / "template.yaml") as lc:
        yield lc


@pytest.fixture(scope="module")
def record(cloud: LocalCloudProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{cloud.edge_url}/_localcloud/stack") as resp:
        return dict(json.load(resp))


def _aws(cloud: LocalCloudProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / ".venv/bin/aws"), *args],
        env=cloud.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sts_get_caller_identity_with_boto3_and_the_cli(cloud) -> None:
    identity = cloud.client("sts").get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    done = _aws(cloud, "sts", "get-caller-identity", "--output", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == "000000000000"
    assumed = cloud.client("sts").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/some-role", RoleSessionName="tests"
    )
    assert assumed["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/some-role/tests"
    assert assumed["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_describe_stacks_answers_the_deployed_outputs(cloud, record) -> None:
    [stack] = cloud.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"] == record["StackId"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {o["OutputKey"]: o["OutputValue"] for o in record["Outputs"]}
    assert outputs["ApiUrl"] == cloud.api_url
    # locally, the ready-to-paste command names the local example input
    assert outputs["StartExecutionCommand"].endswith("--input file://examples/local-input.json")
    assert {"ExecutionInputFile", "examples/local-input.json"} <= {
        v for p in stack["Parameters"] for v in (p["ParameterKey"], p["ParameterValue"])
    }
    summaries = cloud.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])
    assert [s["StackName"] for s in summaries["StackSummaries"]] == [STACK]


def test_readme_one_liner_sets_bucket_state_machine_and_api(cloud, record) -> None:
    readme = (REPO / "README.md").read_text()
    [line] = [ln for ln in readme.splitlines() if ln.startswith("read -r BUCKET SM API_URL")]
    done = subprocess.run(
        ["bash", "-c", f'{line}\nprintf "%s\\n" "$BUCKET" "$SM" "$API_URL"'],
        env={**cloud.env(), "PATH": f"{REPO / '.venv/bin'}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outputs = {o["OutputKey"]: o["OutputValue"] for o in record["Outputs"]}
    assert done.stdout.splitlines() == [outputs["BucketName"], outputs["StateMachineArn"], outputs["ApiUrl"]]


def test_stack_resources_and_iam_roles_agree(cloud) -> None:
    cfn, iam = cloud.client("cloudformation"), cloud.client("iam")
    resources = {
        r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=STACK)["StackResources"]
    }
    assert resources["PipelineStateMachine"]["ResourceType"] == "AWS::Serverless::StateMachine"
    role_name = resources["SageMakerExecutionRole"]["PhysicalResourceId"]
    role = iam.get_role(RoleName=role_name)["Role"]
    assert role["Arn"] == f"arn:aws:iam::000000000000:role/{role_name}"
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]  # botocore decodes IAM's URL-encoding
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == "000000000000"
    listed = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert role_name in listed
    assert {
        r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::IAM::Role"
    } == set(listed)
    results = iam.simulate_principal_policy(
        PolicySourceArn=role["Arn"], ActionNames=["s3:GetObject", "sagemaker:CreateTrainingJob"]
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("s3:GetObject", "allowed"),
        ("sagemaker:CreateTrainingJob", "allowed"),
    ]


def test_errors_are_aws_shaped_and_never_unknown(cloud) -> None:
    cfn, iam = cloud.client("cloudformation"), cloud.client("iam")
    with pytest.raises(ClientError) as info:
        cfn.describe_stacks(StackName="no-such-stack")
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert info.value.response["Error"]["Message"] == "Stack with id no-such-stack does not exist"
    with pytest.raises(ClientError) as info:
        iam.get_role(RoleName="no-such-role")
    assert info.value.response["Error"]["Code"] == "NoSuchEntity"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as info:
        cfn.delete_stack(StackName=STACK)
    assert info.value.response["Error"]["Code"] == "InvalidAction"
    assert "not supported by localcloud" in info.value.response["Error"]["Message"]
    # a query-protocol service localcloud does not emulate at all
    with pytest.raises(ClientError) as info:
        cloud.client("ses").list_identities()
    assert "not supported by localcloud" in info.value.response["Error"]["Message"]
    assert info.value.response["Error"]["Code"] != "Unknown"
    # the CLI reports the same
    done = _aws(cloud, "cloudformation", "create-stack", "--stack-name", "x", "--template-body", "{}")
    assert done.returncode != 0 and "not supported by localcloud" in done.stderr
    done = _aws(
        cloud, "cloudformation", "describe-stacks", "--stack-name", STACK, "--query", "Stacks[0].StackName"
    )
    assert done.returncode == 0 and json.loads(done.stdout) == STACK


def test_log_groups_the_stack_declares_exist_and_executions_log_there(cloud) -> None:
    group = f"/aws/vendedlogs/states/{STACK}-pipeline"
    logs = cloud.client("logs")
    groups = [
        g["logGroupName"]
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/")["logGroups"]
    ]
    assert groups == [group]
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    machine = cloud.client("cloudformation").describe_stack_resource(
        StackName=STACK, LogicalResourceId="PipelineStateMachine"
    )["StackResourceDetail"]["PhysicalResourceId"]
    config = cloud.client("stepfunctions").describe_state_machine(stateMachineArn=machine)[
        "loggingConfiguration"
    ]
    assert config["level"] == "ALL"
    assert config["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"].endswith(
        f":log-group:{group}:*"
    )
