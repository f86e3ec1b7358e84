"""DeployGate: deploy the retrained model only if it is good enough, and say why (docs/evaluation.md).

Input and output: the pipeline state; ``gate`` records the decision. The new model's test
accuracy is its evaluation's top-1 accuracy (``retrain.evaluation``, from train.py's
evaluation.json). The serving model is found from the endpoint: DescribeEndpoint ->
DescribeEndpointConfig -> the variant's model -> its ``evaluation:*`` tags (DeployEndpoint tags
every model it creates), or, for a model without them, ``evaluation.json`` inside its
model.tar.gz. The rule:

- ``deploy.force`` deploys without comparing;
- below ``deploy.minAccuracy`` (default 0) never deploys;
- with an endpoint serving a model of known accuracy on the *same* test set (equal fingerprints),
  deploys only when the new accuracy >= the serving one - ``deploy.tolerance`` (default 0.01);
  a different or unknown test set is said in the reason and only minAccuracy applies.

When the gate says no, the state's ``output`` is the execution output with ``deployed: false``,
the reason and the kept model's artifact, and the state machine ends SUCCEEDED there.
Relies on powertools (Logger, Metrics, Tracer), pydantic and botocore.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from .aws import (
    THROTTLING_CODES,
    OnFirstUse,
    describe_endpoint_or_none,
    error_code,
    error_message,
    s3_client,
    sagemaker_client,
    throttling_as_retryable,
)
from .check_status import EVALUATION_FILE, read_archive_files, summary
from .observability import instrumented, make_logger, make_metrics, make_tracer
from .state import ExecutionOutput, GateDecision, PipelineState

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()

ACCURACY_TAG = "evaluation:top1Accuracy"
TEST_SET_TAG = "evaluation:testSet"


@dataclass(frozen=True)
class ServingModel:
    """The model an endpoint serves now, and what is known of its quality."""

    name: str
    accuracy: float | None
    test_set: str | None
    source: str  # where the figures came from (tags, artifact) or why there are none
    endpoint_status: str = ""


def _from_artifact(s3: Any, artifact: str) -> tuple[float | None, str | None, str]:
    try:
        found = read_archive_files(s3, artifact, frozenset({EVALUATION_FILE}))
    except (ClientError, OSError, ValueError) as exc:  # ValueError: ArchiveUnreadable too
        return None, None, f"its artifact {artifact} could not be read ({exc})"
    if EVALUATION_FILE not in found:
        return None, None, f"its artifact {artifact} has no {EVALUATION_FILE}"
    try:
        document = json.loads(found[EVALUATION_FILE])
        accuracy = float(document["top1Accuracy"])
    except (ValueError, KeyError, TypeError) as exc:
        return None, None, f"the {EVALUATION_FILE} in {artifact} is unusable ({exc})"
    return accuracy, (document.get("testSet") or {}).get("fingerprint"), f"{EVALUATION_FILE} in {artifact}"


def serving_model(sagemaker: Any, s3: Any, endpoint_name: str) -> ServingModel | None:
    """The model ``endpoint_name`` serves, with its evaluation; None when there is no endpoint.

    A config or model this function may not read (one not made by this pipeline: IAM allows the
    app's own names only) or that vanished leaves the accuracy unknown, not the gate failed.
    """
    endpoint = describe_endpoint_or_none(sagemaker, endpoint_name)
    if endpoint is None or not endpoint.get("EndpointConfigName"):
        return None
    status = str(endpoint.get("EndpointStatus", ""))
    config_name = endpoint["EndpointConfigName"]
    name = f"(the model of endpoint config {config_name})"
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        variants = config.get("ProductionVariants") or []
        if not variants:
            return ServingModel(name, None, None, f"endpoint config {config_name} has no variants", status)
        name = variants[0]["ModelName"]
        model = sagemaker.describe_model(ModelName=name)
        listed = sagemaker.list_tags(ResourceArn=model["ModelArn"]).get("Tags", [])
    except ClientError as exc:
        if error_code(exc) in THROTTLING_CODES:
            raise
        return ServingModel(
            name, None, None, f"it could not be read ({error_code(exc)}: {error_message(exc)})"
        )
    tags = {t["Key"]: t["Value"] for t in listed}
    if ACCURACY_TAG in tags:
        try:
            return ServingModel(name, float(tags[ACCURACY_TAG]), tags.get(TEST_SET_TAG), "its tags", status)
        except ValueError:
            pass
    artifact = (model.get("PrimaryContainer") or {}).get("ModelDataUrl")
    if not artifact:
        return ServingModel(name, None, None, "it has no evaluation tags and no model artifact", status)
    accuracy, test_set, source = _from_artifact(s3, artifact)
    return ServingModel(name, accuracy, test_set, source, status)


def decide(state: PipelineState, serving: ServingModel | None) -> GateDecision:
    """The rule of the module docstring, with a reason a person can act on."""
    settings = state.config.deploy
    retrain = state.retrain
    evaluation = retrain.evaluation if retrain else None
    new = evaluation.top1Accuracy if evaluation else None
    if new is None and retrain is not None:
        new = retrain.finalMetrics.get("test:accuracy")
    common: dict[str, Any] = {"newAccuracy": new}
    if serving is not None:
        common.update(servingModel=serving.name, servingAccuracy=serving.accuracy)
    if settings.force:
        shown = f"{new:.4f}" if new is not None else "unknown"
        return GateDecision(
            deploy=True,
            forced=True,
            reason=f"deploy.force: deployed without comparing (test accuracy {shown})",
            **common,
        )
    if new is None:
        return GateDecision(
            deploy=False,
            reason="the retrain has no test accuracy (no test channel?): not deployed; "
            "set deploy.force to deploy it",
            **common,
        )
    if new < settings.minAccuracy:
        return GateDecision(
            deploy=False,
            reason=f"test accuracy {new:.4f} is below deploy.minAccuracy {settings.minAccuracy:.4f}",
            **common,
        )
    if serving is None:
        return GateDecision(
            deploy=True,
            reason=f"no endpoint is serving yet; test accuracy {new:.4f} >= deploy.minAccuracy "
            f"{settings.minAccuracy:.4f}",
            **common,
        )
    if serving.accuracy is None:
        return GateDecision(
            deploy=True,
            reason=f"the serving model {serving.name} has no known accuracy ({serving.source}): "
            f"compared with deploy.minAccuracy only; test accuracy {new:.4f} >= {settings.minAccuracy:.4f}",
            **common,
        )
    new_set = evaluation.testSet if evaluation else None
    if not new_set or new_set != serving.test_set:
        return GateDecision(
            deploy=True,
            sameTestSet=False,
            reason=f"the serving model {serving.name} (test accuracy {serving.accuracy:.4f}) was evaluated "
            "on a different test set, so the accuracies are not comparable: compared with "
            f"deploy.minAccuracy only; test accuracy {new:.4f} >= {settings.minAccuracy:.4f}",
            **common,
        )
    floor = serving.accuracy - settings.tolerance
    if new >= floor:
        return GateDecision(
            deploy=True,
            sameTestSet=True,
            reason=f"test accuracy {new:.4f} >= the serving model {serving.name}'s {serving.accuracy:.4f} "
            f"- deploy.tolerance {settings.tolerance:g}",
            **common,
        )
    return GateDecision(
        deploy=False,
        sameTestSet=True,
        reason=f"test accuracy {new:.4f} is below the serving model {serving.name}'s {serving.accuracy:.4f} "
        f"- deploy.tolerance {settings.tolerance:g}; the endpoint keeps serving it. The new model is kept "
        f"at {retrain.modelArtifact if retrain else '?'}: start the execution again with deploy.force: true "
        "to deploy it anyway",
        **common,
    )


def kept_output(
    state: PipelineState, decision: GateDecision, serving: ServingModel | None
) -> ExecutionOutput:
    """The execution output when the gate says no: the model is kept, the endpoint untouched."""
    endpoint = {
        "name": state.config.endpoint.name,
        "status": serving.endpoint_status if serving else "NotDeployed",
        "action": "unchanged",
        "model": decision.servingModel or "",
    }
    return summary(state, endpoint, deployed=False, reason=decision.reason)


def deploy_gate(event: dict[str, Any], sagemaker: Any, s3: Any) -> dict[str, Any]:
    state = PipelineState.model_validate(event)
    with throttling_as_retryable():
        serving = (
            None if state.config.deploy.force else serving_model(sagemaker, s3, state.config.endpoint.name)
        )
    decision = decide(state, serving)
    state.gate = decision
    if not decision.deploy:
        state.output = kept_output(state, decision, serving)
    logger.info("deployment gate", extra={"gate": decision.model_dump()})
    metrics.add_metric(
        name="Deployed" if decision.deploy else "DeployRefused", unit=MetricUnit.Count, value=1
    )
    return state.dump()


@instrumented(logger, metrics, tracer)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return deploy_gate(event, sagemaker_client(), OnFirstUse(s3_client))
