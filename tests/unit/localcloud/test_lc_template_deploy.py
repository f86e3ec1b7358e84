"""Deploying a SAM template into localcloud's services (in process; no worker is started): buckets,
functions with Globals, the state machine with its substitutions, HTTP API routes, outputs, conditions,
parameter overrides, idempotent re-deploys, and errors that name the resource."""

from __future__ import annotations

import json
import shutil
import types
from pathlib import Path
from typing import Any

import pytest

from localcloud.apigateway import HttpApiService
from localcloud.config import Settings
from localcloud.lambda_ import LambdaService
from localcloud.stepfunctions import StepFunctionsService
from localcloud.store import Store
from localcloud.template import STACK_KIND, TemplateError, deploy_template, stack_outputs

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "app"


class FakeS3:
    def __init__(self) -> None:
        self.buckets: list[str] = []

    def ensure_bucket(self, name: str) -> None:
        if name not in self.buckets:
            self.buckets.append(name)


def make_cloud(state_dir: Path) -> Any:
    cloud = types.SimpleNamespace(
        settings=Settings(state_dir=state_dir, port=4566, api_port=3000),
        store=Store(state_dir / "state.db"),
        s3=FakeS3(),
    )
    cloud.lambda_ = LambdaService(settings=cloud.settings, store=cloud.store)
    cloud.stepfunctions = StepFunctionsService(
        settings=cloud.settings, store=cloud.store, invoke_lambda=cloud.lambda_.invoke
    )
    cloud.apigateway = HttpApiService(
        settings=cloud.settings, store=cloud.store, invoke_lambda=cloud.lambda_.invoke
    )
    return cloud


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A copy of the fixture app that a test may edit."""
    target = tmp_path / "app"
    shutil.copytree(FIXTURE, target)
    return target


def deploy(
    tmp_path: Path, template: Path, monkeypatch: pytest.MonkeyPatch | None = None, **env: str
) -> tuple[Any, dict[str, Any]]:
    cloud = make_cloud(tmp_path / "state")
    if monkeypatch is not None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    return cloud, deploy_template(cloud, template)


def test_deploys_buckets_functions_state_machine_routes_and_outputs(
    tmp_path: Path, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCALCLOUD_STACK_NAME", raising=False)
    monkeypatch.delenv("LOCALCLOUD_PARAMETER_OVERRIDES", raising=False)
    cloud, record = deploy(tmp_path, app / "template.yaml")
    assert record["StackName"] == "app"
    bucket = record["Resources"]["DataBucket"]["PhysicalResourceId"]
    assert cloud.s3.buckets == [bucket] and bucket.startswith("app-databucket-") and bucket == bucket.lower()
    assert "ProdOnlyBucket" not in record["Resources"]  # its condition is false

    echo = cloud.lambda_.get_function("EchoFunction")  # the logical ID resolves too
    assert echo["FunctionName"].startswith("app-EchoFunction-")
    assert echo["Handler"] == "handlers.echo" and echo["Runtime"] == "python3.11"
    assert echo["Timeout"] == 10 and echo["MemorySize"] == 256  # Globals; FindInMap
    assert echo["Environment"]["Variables"] == {"GREETING": "hello", "BUCKET": bucket, "ROLE": "echo"}
    assert cloud.lambda_.resolve(echo["FunctionArn"])["CodeDir"] == str((app / "functions").resolve())
    assert cloud.lambda_.get_function("app-add")["FunctionName"] == "app-add"  # explicit FunctionName (!Sub)
    assert cloud.lambda_.get_function("SlowFunction")["Timeout"] == 2
    assert cloud.lambda_.resolve("BrokenFunction")["CodeDir"] == str((app / "broken").resolve())

    machine_arn = record["Resources"]["Pipeline"]["PhysicalResourceId"]
    definition = json.loads(cloud.stepfunctions.describe(machine_arn)["definition"])
    add = definition["States"]["Add"]["Parameters"]["FunctionName"]
    assert add == "arn:aws:lambda:us-east-1:000000000000:function:app-add"
    assert definition["States"]["Echo"]["Parameters"]["FunctionName"] == echo["FunctionName"]
    assert (
        definition["States"]["Boom"]["Resource"] == cloud.lambda_.get_function("FailFunction")["FunctionArn"]
    )

    routes = {r["routeKey"]: r["function"] for r in cloud.apigateway.routes_summary()}
    assert (
        routes["POST /echo"]
        == routes["GET /items/{id}"]
        == routes["ANY /files/{proxy+}"]
        == echo["FunctionName"]
    )
    assert set(routes) >= {"POST /upload", "GET /hello", "GET /bytes", "GET /fail", "GET /slow"}

    outputs = stack_outputs(cloud.store)
    assert outputs["ApiUrl"] == "http://127.0.0.1:3000/"  # the execute-api URL points at the local API port
    assert outputs["PipelineArn"] == machine_arn and outputs["BucketName"] == bucket
    assert json.loads((tmp_path / "state/stacks/app.json").read_text())["Outputs"] == record["Outputs"]


def test_parameter_overrides_and_stack_name(
    tmp_path: Path, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, record = deploy(
        tmp_path,
        app / "template.yaml",
        monkeypatch,
        LOCALCLOUD_STACK_NAME="other",
        LOCALCLOUD_PARAMETER_OVERRIDES="Stage=prod Greeting=hey",
    )
    assert record["StackName"] == "other"
    assert "ProdOnlyBucket" in record["Resources"] and len(cloud.s3.buckets) == 2
    echo = cloud.lambda_.get_function("EchoFunction")
    assert echo["MemorySize"] == 1024
    assert echo["Environment"]["Variables"]["GREETING"] == "hey"
    assert echo["Environment"]["Variables"]["ROLE"] == "production"


def test_redeploy_is_idempotent_and_removes_what_left_the_template(
    tmp_path: Path, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCALCLOUD_PARAMETER_OVERRIDES", raising=False)
    cloud, first = deploy(tmp_path, app / "template.yaml")
    echo = cloud.lambda_.get_function("EchoFunction")
    second = deploy_template(cloud, app / "template.yaml")
    assert second["Resources"] == first["Resources"]
    assert cloud.lambda_.get_function("EchoFunction")["RevisionId"] == echo["RevisionId"]  # unchanged
    assert len(cloud.store.list(STACK_KIND)) == 1
    assert len(cloud.stepfunctions.api.list_state_machines({})["stateMachines"]) == 1

    text = (app / "template.yaml").read_text()
    text = text.replace(
        "  CrashFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Handler: handlers.crash\n",
        "",
    )
    text = text.replace("Timeout: 10", "Timeout: 20")
    (app / "template.yaml").write_text(text)
    deploy_template(cloud, app / "template.yaml")
    with pytest.raises(Exception, match="Function not found"):
        cloud.lambda_.get_function("CrashFunction")
    assert cloud.lambda_.get_function("EchoFunction")["Timeout"] == 20


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("CodeUri: broken/", "CodeUri: missing/"),
            "Resource BrokenFunction: CodeUri missing/ does not exist",
        ),
        (
            ("Runtime: python3.11", "Runtime: nodejs20.x"),
            "Resource EchoFunction: Runtime nodejs20.x is not supported",
        ),
        (
            ("DefinitionUri: statemachine/pipeline.asl.json", "DefinitionUri: statemachine/none.json"),
            "Resource Pipeline: DefinitionUri statemachine/none.json does not exist",
        ),
        (
            ("!GetAtt AddFunction.Arn", "!GetAtt AddFunction.Nope"),
            "Resource AddFunction: AWS::Serverless::Function has no attribute Nope",
        ),
        (("BUCKET: !Ref DataBucket", "BUCKET: !Ref NoSuchBucket"), "Ref to 'NoSuchBucket'"),
        (
            ("Path: /upload, Method: post", "Path: /upload, Method: post, PayloadFormatVersion: '1.0'"),
            "Resource HttpFunction: event Upload: PayloadFormatVersion 1.0 is not supported",
        ),
    ],
)
def test_errors_name_the_resource(tmp_path: Path, app: Path, edit: tuple[str, str], message: str) -> None:
    template = app / "template.yaml"
    text = template.read_text()
    assert edit[0] in text
    template.write_text(text.replace(edit[0], edit[1]))
    with pytest.raises(TemplateError) as err:
        deploy(tmp_path, template)
    assert message in str(err.value)


def test_invalid_state_machine_definition_names_the_resource(tmp_path: Path, app: Path) -> None:
    asl = app / "statemachine/pipeline.asl.json"
    asl.write_text(
        asl.read_text().replace(
            '"Next": "Done"\n    },\n    "Failed"', '"Next": "Gone"\n    },\n    "Failed"'
        )
    )
    with pytest.raises(TemplateError) as err:
        deploy(tmp_path, app / "template.yaml")
    assert "Resource Pipeline: Invalid State Machine Definition" in str(err.value)
    assert "Missing 'Next' target: Gone" in str(err.value)


def test_inline_definition_and_inline_code(tmp_path: Path) -> None:
    template = tmp_path / "inline" / "template.yaml"
    template.parent.mkdir()
    template.write_text("""
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return "hi"
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: inline-machine
      Definition:
        StartAt: Call
        States:
          Call:
            Type: Task
            Resource: !GetAtt Hello.Arn
            End: true
  Logs:
    Type: AWS::Logs::LogGroup
""")
    cloud, record = deploy(tmp_path, template)
    code_dir = Path(cloud.lambda_.get_function("Hello") and cloud.lambda_.resolve("Hello")["CodeDir"])
    assert (code_dir / "index.py").read_text().startswith("def handler")
    arn = record["Resources"]["Machine"]["PhysicalResourceId"]
    assert arn.endswith(":stateMachine:inline-machine")
    definition = json.loads(cloud.stepfunctions.describe(arn)["definition"])
    assert definition["States"]["Call"]["Resource"].endswith(
        ":function:inline-Hello-" + cloud.lambda_.resolve("Hello")["FunctionName"][-12:]
    )


def test_generated_names_fit_aws_limits_for_long_stack_names(
    tmp_path: Path, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cloud, record = deploy(tmp_path, app / "template.yaml", monkeypatch, LOCALCLOUD_STACK_NAME="s" * 100)
    functions = [
        r["PhysicalResourceId"]
        for logical, r in record["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function" and logical != "AddFunction"  # AddFunction names itself
    ]
    assert len(functions) == len(set(functions)) == 9
    assert all(len(name) <= 64 for name in functions), functions
    bucket = record["Resources"]["DataBucket"]["PhysicalResourceId"]
    assert len(bucket) <= 63 and bucket == bucket.lower()


def test_deploys_the_repositorys_own_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's template.yaml, hardening included (access-log bucket, KMS-encrypted log groups, the
    predict function's reserved concurrency), deploys locally: what has no local effect is ignored."""
    monkeypatch.delenv("LOCALCLOUD_STACK_NAME", raising=False)
    monkeypatch.delenv("LOCALCLOUD_PARAMETER_OVERRIDES", raising=False)
    template = Path(__file__).resolve().parents[3] / "template.yaml"
    cloud, record = deploy(tmp_path, template)
    resources = record["Resources"]
    artifact = resources["ArtifactBucket"]["PhysicalResourceId"]
    access_logs = resources["AccessLogBucket"]["PhysicalResourceId"]
    assert sorted(cloud.s3.buckets) == sorted([artifact, access_logs])
    functions = [k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"]
    assert len(functions) == 8
    assert cloud.lambda_.get_function("PredictFunction")["Timeout"] == 29
    outputs = stack_outputs(cloud.store)
    assert outputs["BucketName"] == artifact
