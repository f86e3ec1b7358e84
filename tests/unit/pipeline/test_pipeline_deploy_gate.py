"""DeployGate: finding the serving model's evaluation (tags, artifact, unreadable) and the rule (Stubber).

The whole state-machine path (worse retrain kept, force, tolerance) is in tests/aws/test_aws_workflow.py.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest
from botocore.response import StreamingBody
from pipeline_testkit import ARN, NOW, sample_state

from pipeline.deploy_gate import ServingModel, decide, serving_model
from pipeline.state import EvaluationSummary, RetrainState

FINGERPRINT = "sha256:" + "ab" * 32
ARTIFACT = "s3://pipeline-bucket-abc/models/old/output/model.tar.gz"


def _model_tar(evaluation: dict[str, Any] | None) -> StreamingBody:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        files = {"model.pt": b"\0" * 1000}
        if evaluation is not None:
            files["evaluation.json"] = json.dumps(evaluation).encode()
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    return StreamingBody(io.BytesIO(data), len(data))


def _serving(sm: Any, tags: list[dict[str, str]], artifact: str | None = ARTIFACT) -> None:
    sm.add_response(
        "describe_endpoint",
        {
            "EndpointName": "dog-breeds",
            "EndpointArn": f"{ARN}:endpoint/dog-breeds",
            "EndpointConfigName": "dogs-old-endpoint-config",
            "EndpointStatus": "InService",
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
        },
    )
    sm.add_response(
        "describe_endpoint_config",
        {
            "EndpointConfigName": "dogs-old-endpoint-config",
            "EndpointConfigArn": f"{ARN}:endpoint-config/dogs-old-endpoint-config",
            "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "dogs-old-model"}],
            "CreationTime": NOW,
        },
    )
    container: dict[str, Any] = {"Image": "i"}
    if artifact:
        container["ModelDataUrl"] = artifact
    sm.add_response(
        "describe_model",
        {
            "ModelName": "dogs-old-model",
            "ModelArn": f"{ARN}:model/dogs-old-model",
            "PrimaryContainer": container,
            "CreationTime": NOW,
        },
    )
    sm.add_response("list_tags", {"Tags": tags})


def test_a_model_without_tags_is_judged_by_the_evaluation_in_its_artifact(sm: Any, s3: Any) -> None:
    (sm_client, sm_stub), (s3_client, s3_stub) = sm, s3
    _serving(sm_stub, tags=[{"Key": "app", "Value": "image-classifier-pipeline"}])
    evaluation = {"top1Accuracy": 0.91, "testSet": {"fingerprint": FINGERPRINT}}
    s3_stub.add_response(
        "get_object",
        {"Body": _model_tar(evaluation)},
        {"Bucket": "pipeline-bucket-abc", "Key": "models/old/output/model.tar.gz"},
    )
    serving = serving_model(sm_client, s3_client, "dog-breeds")
    assert serving == ServingModel(
        "dogs-old-model", 0.91, FINGERPRINT, f"evaluation.json in {ARTIFACT}", "InService"
    )


def test_a_model_with_neither_tags_nor_evaluation_has_unknown_accuracy(sm: Any, s3: Any) -> None:
    (sm_client, sm_stub), (s3_client, s3_stub) = sm, s3
    _serving(sm_stub, tags=[])
    s3_stub.add_response("get_object", {"Body": _model_tar(None)})
    serving = serving_model(sm_client, s3_client, "dog-breeds")
    assert serving is not None and serving.accuracy is None
    assert serving.source == f"its artifact {ARTIFACT} has no evaluation.json"


def test_a_config_the_function_may_not_read_leaves_the_accuracy_unknown(sm: Any, s3: Any) -> None:
    (sm_client, sm_stub), (s3_client, _) = sm, s3
    sm_stub.add_response(
        "describe_endpoint",
        {
            "EndpointName": "dog-breeds",
            "EndpointArn": f"{ARN}:endpoint/dog-breeds",
            "EndpointConfigName": "hand-made-config",
            "EndpointStatus": "InService",
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
        },
    )
    sm_stub.add_client_error("describe_endpoint_config", "AccessDeniedException", "not authorized", 400)
    serving = serving_model(sm_client, s3_client, "dog-breeds")
    assert serving is not None and serving.accuracy is None
    assert "AccessDeniedException" in serving.source


def test_no_endpoint_means_nothing_serving(sm: Any, s3: Any) -> None:
    (sm_client, sm_stub), (s3_client, _) = sm, s3
    sm_stub.add_client_error(
        "describe_endpoint", "ValidationException", "Could not find endpoint dog-breeds."
    )
    assert serving_model(sm_client, s3_client, "dog-breeds") is None


def _state(defaults: Any, accuracy: float | None, deploy: dict[str, Any] | None = None) -> Any:
    state = sample_state(defaults, execution_input={"deploy": deploy} if deploy else None)
    state.retrain = RetrainState(name="r", status="Completed", modelArtifact="s3://b/m/model.tar.gz")
    if accuracy is not None:
        state.retrain.evaluation = EvaluationSummary(top1Accuracy=accuracy, testSet=FINGERPRINT)
    return state


@pytest.mark.parametrize(
    ("new", "old", "deploy", "expected"),
    [
        (0.88, 0.90, None, False),  # 0.88 < 0.90 - 0.01
        (0.89, 0.90, None, True),  # exactly at the tolerance
        (0.88, 0.90, {"tolerance": 0.05}, True),
        (0.95, 0.90, {"minAccuracy": 0.96}, False),  # better than serving, below the floor
        (0.50, 0.90, {"force": True}, True),
    ],
)
def test_the_rule(
    defaults: Any, new: float, old: float, deploy: dict[str, Any] | None, expected: bool
) -> None:
    serving = ServingModel("dogs-old-model", old, FINGERPRINT, "its tags", "InService")
    decision = decide(_state(defaults, new, deploy), serving)
    assert decision.deploy is expected, decision.reason
    assert decision.newAccuracy == new


def test_unknown_serving_accuracy_compares_with_min_accuracy_only(defaults: Any) -> None:
    serving = ServingModel("dogs-old-model", None, None, "it has no evaluation tags and no model artifact")
    decision = decide(_state(defaults, 0.7, {"minAccuracy": 0.5}), serving)
    assert decision.deploy
    assert "has no known accuracy (it has no evaluation tags and no model artifact)" in decision.reason


def test_a_retrain_without_evaluation_is_not_deployed_unless_forced(defaults: Any) -> None:
    decision = decide(_state(defaults, None), None)
    assert not decision.deploy and "no test accuracy" in decision.reason
    assert decide(_state(defaults, None, {"force": True}), None).deploy
