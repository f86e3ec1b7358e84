"""template.yaml: least-privilege IAM, a locked-down bucket, wiring that works on AWS and locally."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from aws_testkit import ROOT, as_list, definition, iam_statements, load_template, walk

from localcloud.template import intrinsics
from pipeline.config import Defaults

TEMPLATE = load_template()
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}

# What localcloud implements (it runs this very template): anything else would break `make demo`.
LOCAL_INTRINSICS = intrinsics.SUPPORTED
PSEUDO = {
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::URLSuffix",
    "AWS::NoValue",
}
LOCAL_GETATT = {
    "AWS::S3::Bucket": {"Arn"},
    "AWS::IAM::Role": {"Arn"},
    "AWS::Serverless::Function": {"Arn"},
    "AWS::Serverless::StateMachine": {"Arn", "Name"},
    "AWS::KMS::Key": {"Arn"},
}
ACCOUNT_ROOT = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
# Actions AWS only grants on Resource "*" (no resource-level permissions exist for them).
STAR_RESOURCE_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
}


def _sub_refs(text: str) -> set[str]:
    return {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}


def test_only_intrinsics_localcloud_implements() -> None:
    known = set(TEMPLATE["Parameters"]) | set(RESOURCES) | PSEUDO
    for node in walk(TEMPLATE):
        if not isinstance(node, dict) or len(node) != 1:
            continue
        ((key, value),) = node.items()
        if key.startswith("Fn::") or key in ("Ref", "Condition"):
            assert key in LOCAL_INTRINSICS, key
        if key == "Ref":
            assert value in known, value
        if key == "Fn::GetAtt":
            target, attribute = value
            allowed = LOCAL_GETATT.get(RESOURCES[target]["Type"], set())
            assert attribute in allowed, f"GetAtt {target}.{attribute} is not resolved by localcloud"
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else value
            for ref in _sub_refs(text) - set(variables):
                assert ref in known, ref


def test_no_iam_statement_allows_a_wildcard_action() -> None:
    statements = list(iam_statements(TEMPLATE))
    assert len(statements) > 20
    for owner, statement in statements:
        assert "NotAction" not in statement and "NotResource" not in statement, owner
        actions = as_list(statement["Action"])
        if statement["Effect"] == "Deny":
            # the bucket's TLS-only rule denies all of S3 over plain HTTP: a wildcard that only restricts
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, owner
            continue
        if RESOURCES[owner]["Type"] == "AWS::KMS::Key" and statement["Principal"] == ACCOUNT_ROOT:
            # AWS's default key policy: kms:* to the account root hands control of the key to IAM
            assert actions == ["kms:*"] and statement["Resource"] == "*", owner
            continue
        for action in actions:
            assert action != "*" and not action.endswith(":*") and "*" not in action, (owner, action)
        if RESOURCES[owner]["Type"] == "AWS::KMS::Key":
            # In a key policy Resource "*" means this key; a service's use is scoped by a condition
            assert statement.get("Condition"), owner
        elif "*" in as_list(statement.get("Resource", [])):
            assert set(actions) <= STAR_RESOURCE_ACTIONS, (owner, actions)


def test_sagemaker_permissions_are_scoped_to_the_apps_names() -> None:
    for owner, statement in iam_statements(TEMPLATE):
        if not any(a.startswith("sagemaker:") for a in as_list(statement["Action"])):
            continue
        for resource in as_list(statement["Resource"]):
            text = resource["Fn::Sub"]
            assert "${JobNamePrefix}-*" in text or "${EndpointName}" in text, (owner, text)


def test_pass_role_only_to_sagemaker() -> None:
    passes = [s for _, s in iam_statements(TEMPLATE) if "iam:PassRole" in as_list(s["Action"])]
    assert len(passes) == 3
    for statement in passes:
        assert statement["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
        assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_bucket_is_encrypted_private_and_tls_only() -> None:
    bucket = RESOURCES["ArtifactBucket"]["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    lifecycle = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert lifecycle["ExpireCheckpoints"]["Prefix"] == "checkpoints/"
    policy = RESOURCES["ArtifactBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ArtifactBucket"}
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["ArtifactBucket", "Arn"]} in deny["Resource"]
    assert {"Fn::Sub": "${ArtifactBucket.Arn}/*"} in deny["Resource"]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_run_from_the_one_package(name: str) -> None:
    props = FUNCTIONS[name]["Properties"]
    assert props["CodeUri"] == "functions/"
    module_name, _, attribute = props["Handler"].rpartition(".")
    assert module_name.startswith("pipeline.")
    assert callable(getattr(importlib.import_module(module_name), attribute))
    assert props["Timeout"] <= (29 if name == "PredictFunction" else 900)
    assert props["Policies"], "each function has its own least-privilege policy"


def test_globals_python_and_environment_feed_the_defaults() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.12"
    env = function_globals["Environment"]["Variables"]
    aliases = {field.alias for field in Defaults.model_fields.values()} - {"AWS_REGION", "AWS_ENDPOINT_URL"}
    assert aliases <= set(env), aliases - set(env)
    # the parameters' defaults are the schema's defaults, so docs and code agree
    params = TEMPLATE["Parameters"]
    resolved = {}
    for key, value in env.items():
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in params:
            resolved[key] = str(params[value["Ref"]]["Default"])
    resolved.update({"BUCKET_NAME": "b-1", "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/r"})
    resolved.update({"TRAINING_IMAGE_URI": "t", "INFERENCE_IMAGE_URI": "i"})
    from_template = Defaults.from_env(resolved)
    for field, info in Defaults.model_fields.items():
        if info.alias in resolved and not info.is_required():
            assert getattr(from_template, field) == info.default, field


def test_state_machine_wiring() -> None:
    machine = RESOURCES["PipelineStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachine/pipeline.asl.json"
    assert machine["Tracing"] == {"Enabled": True}
    assert machine["Logging"]["Level"] == "ALL"
    placeholders = set(re.findall(r"\$\{(\w+)\}", (ROOT / machine["DefinitionUri"]).read_text()))
    assert placeholders == set(machine["DefinitionSubstitutions"])
    for key, value in machine["DefinitionSubstitutions"].items():
        if key.endswith("FunctionArn"):
            function = key.removesuffix("Arn")
            assert value == {"Fn::GetAtt": [function, "Arn"]}
            invoke = [s for _, s in iam_statements({"Resources": {"m": RESOURCES["PipelineStateMachine"]}})]
            assert any(
                value in as_list(s["Resource"]) for s in invoke if s["Action"] == "lambda:InvokeFunction"
            )
    tasks = [s for s in definition()["States"].values() if s["Type"] == "Task"]
    assert {t["Parameters"]["FunctionName"] for t in tasks} == {
        "${" + k + "}" for k in machine["DefinitionSubstitutions"] if k.endswith("FunctionArn")
    }


def test_http_api_has_the_predict_route_and_throttling() -> None:
    api = RESOURCES["PredictApi"]["Properties"]
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert api["DefaultRouteSettings"]["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    event = FUNCTIONS["PredictFunction"]["Properties"]["Events"]["Predict"]
    assert event["Type"] == "HttpApi"
    assert event["Properties"]["Path"] == "/predict" and event["Properties"]["Method"] == "POST"
    assert event["Properties"]["PayloadFormatVersion"] == "2.0"


def test_outputs_a_user_needs() -> None:
    outputs = TEMPLATE["Outputs"]
    for key in ("ApiUrl", "StateMachineArn", "BucketName", "StartExecutionCommand"):
        assert key in outputs
    command = outputs["StartExecutionCommand"]["Value"]["Fn::Sub"]
    assert command.startswith("aws stepfunctions start-execution --state-machine-arn ${PipelineStateMachine}")
    assert command.endswith("--input file://${ExecutionInputFile}")
    assert TEMPLATE["Parameters"]["ExecutionInputFile"]["Default"] == "examples/aws-input.json"
    assert (ROOT / "examples" / "aws-input.json").is_file()


def test_debugger_is_off_by_default_and_images_have_regional_defaults() -> None:
    params = TEMPLATE["Parameters"]
    assert params["EnableSageMakerDebugger"]["Default"] == "false"
    assert params["TrainingImageUri"]["Default"] == "" and params["InferenceImageUri"]["Default"] == ""
    regions = TEMPLATE["Mappings"]["RegionImages"]
    assert {"us-east-1", "us-west-2", "eu-west-1"} <= set(regions)
    assert all(re.fullmatch(r"\d{12}", a) for r in regions.values() for a in r.values())


def test_bucket_is_versioned_and_access_logged_to_a_private_log_bucket() -> None:
    bucket = RESOURCES["ArtifactBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    noncurrent = [r for r in bucket["LifecycleConfiguration"]["Rules"] if "NoncurrentVersionExpiration" in r]
    assert noncurrent and all(r["Status"] == "Enabled" for r in noncurrent)  # old versions do not pile up
    logs = RESOURCES["AccessLogBucket"]
    assert logs["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    (allow,) = [
        s
        for s in RESOURCES["AccessLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"} and allow["Action"] == "s3:PutObject"
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": ["ArtifactBucket", "Arn"]}


def test_log_groups_are_encrypted_with_the_stacks_rotating_key() -> None:
    groups = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert len(groups) == 2
    for name, group in groups.items():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}, name
    assert RESOURCES["LogsKey"]["Properties"]["EnableKeyRotation"] is True


def test_predict_concurrency_is_reserved_from_a_parameter_and_zero_means_none() -> None:
    concurrency = FUNCTIONS["PredictFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert concurrency == {
        "Fn::If": [
            "ReservePredictConcurrency",
            {"Ref": "PredictReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert TEMPLATE["Parameters"]["PredictReservedConcurrency"]["MinValue"] == 0
    assert TEMPLATE["Conditions"]["ReservePredictConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PredictReservedConcurrency"}, 0]}]
    }
