"""The edge answers health, routes by X-Amz-Target, and speaks AWS's error shape for what it lacks."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from support.localcloud_proc import LocalCloudProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    with LocalCloudProcess(tmp_path_factory.mktemp("edge") / "state") as lc:
        yield lc


def test_health_names_every_service_and_the_state_dir(cloud: LocalCloudProcess) -> None:
    with urllib.request.urlopen(f"{cloud.edge_url}/_localcloud/health") as resp:
        doc = json.load(resp)
    assert doc["status"] == "running"
    assert doc["pid"] == cloud.pid
    assert {"S3Service", "SageMakerService", "LambdaService", "StepFunctionsService"} <= set(doc["services"])
    assert Path(doc["stateDir"]) == cloud.state_dir.resolve()


def test_unknown_json_target_gets_aws_error_shape(cloud: LocalCloudProcess) -> None:
    request = urllib.request.Request(
        cloud.edge_url,
        data=b"{}",
        method="POST",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 400
    body = json.loads(info.value.read())
    assert body["__type"] == "UnknownOperationException"
    assert "not supported by localcloud" in body["message"]


def test_malformed_json_body_is_a_serialization_error(cloud: LocalCloudProcess) -> None:
    request = urllib.request.Request(
        cloud.edge_url,
        data=b"{not json",
        method="POST",
        headers={"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": "application/x-amz-json-1.1"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert json.loads(info.value.read())["__type"] == "SerializationException"


def test_no_template_means_no_stack(cloud: LocalCloudProcess) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{cloud.edge_url}/_localcloud/stack")
    assert info.value.code == 404


def test_boto3_sees_validation_errors_as_client_errors(cloud: LocalCloudProcess) -> None:
    sm = cloud.client("sagemaker")
    with pytest.raises(ClientError) as info:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="x" * 40)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "32" in info.value.response["Error"]["Message"]
