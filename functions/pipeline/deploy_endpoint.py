"""DeployEndpoint: serve the retrained model, creating the endpoint or switching it blue/green.

Input and output: the pipeline state; ``endpoint`` records what was done. A SageMaker Model is
made from the retrain's model.tar.gz (it carries ``code/inference.py``, so the container runs it
from ``/opt/ml/model/code``), tagged with its test evaluation (read by the next DeployGate), and
a new endpoint config named after the execution. A missing endpoint is created; an existing one
is updated to the new config (blue/green: the old fleet serves until the new one is healthy).
An endpoint that is mid-update for someone else raises ``EndpointBusy`` (retried by the state
machine); a Failed endpoint cannot be updated, and the error says how to remove it. Retried
calls find their model/config already there.
The model's Environment also carries the endpoint's batching (``endpoint.batchSize``,
``maxBatchDelayMs``, ``workers``; unset workers: one per vCPU of the instance type) as the
variables the SageMaker PyTorch serving toolkit hands to TorchServe, which localcloud's model
server reads too (:func:`serving_environment`).
Relies on powertools (Logger, Metrics, Tracer), pydantic and botocore.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from .aws import (
    create_once,
    describe_endpoint_or_none,
    is_already_exists,
    sagemaker_client,
    throttling_as_retryable,
)
from .config import Defaults, EndpointSettings
from .errors import DeploymentFailed, EndpointBusy
from .observability import instrumented, make_logger, make_metrics, make_tracer
from .requests import (
    create_endpoint_request,
    endpoint_config_request,
    model_request,
    update_endpoint_request,
)
from .state import EndpointState, PipelineState

logger = make_logger()
metrics = make_metrics()
tracer = make_tracer()

BUSY = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
WORKER_VARIABLES = ("SAGEMAKER_TS_MIN_WORKERS", "SAGEMAKER_TS_MAX_WORKERS", "SAGEMAKER_MODEL_SERVER_WORKERS")


_INSTANCE_SIZE = re.compile(r"^ml\.(?P<family>[a-z0-9-]+)\.(?P<size>medium|large|(?P<n>\d*)xlarge)$")
_ACCELERATED = ("p", "g", "inf", "trn", "dl")  # families whose TorchServe default follows the accelerators
MAX_DEFAULT_WORKERS = 32


def default_workers(instance_type: str) -> int | None:
    """TorchServe's workers per model on ``instance_type`` when nothing sets them: one per vCPU, read
    from the size (medium 1, large 2, xlarge 4, Nxlarge 4N, as EC2 sizes CPU instances; the
    t2/t3 mediums have 2, the 1 here is the safe side), capped at 32. None for accelerated families
    (one worker per GPU there) and sizes that do not say (metal): the toolkit's default (1) then."""
    match = _INSTANCE_SIZE.match(instance_type)
    if match is None or match["family"].startswith(_ACCELERATED):
        return None
    size = match["size"]
    vcpus = {"medium": 1, "large": 2}.get(size) or 4 * int(match["n"] or 1)
    return min(vcpus, MAX_DEFAULT_WORKERS)


def serving_environment(endpoint: EndpointSettings) -> dict[str, str]:
    """The toolkit's batching and worker variables for ``endpoint`` (docs/contracts.md#execution-input).

    With any ``SAGEMAKER_TS_*`` variable set the toolkit gives TorchServe its own worker counts
    (``SAGEMAKER_TS_MIN/MAX_WORKERS``, default 1) instead of ``SAGEMAKER_MODEL_SERVER_WORKERS`` (whose
    default is TorchServe's: one per vCPU): all three are set so every reader sees the same number,
    ``endpoint.workers`` or else one per vCPU of the instance type (:func:`default_workers`).
    """
    env = {
        "SAGEMAKER_TS_BATCH_SIZE": str(endpoint.batchSize),
        "SAGEMAKER_TS_MAX_BATCH_DELAY": str(endpoint.maxBatchDelayMs),
    }
    workers = endpoint.workers if endpoint.workers is not None else default_workers(endpoint.instanceType)
    if workers is not None:
        env |= {name: str(workers) for name in WORKER_VARIABLES}
    return env


def deploy(sagemaker: Any, state: PipelineState, defaults: Defaults) -> EndpointState:
    if state.retrain is None or not state.retrain.modelArtifact:
        raise DeploymentFailed("DeployEndpoint ran before the retrain produced a model artifact")
    names = state.names
    endpoint_name = state.config.endpoint.name
    serving = serving_environment(state.config.endpoint)
    model = model_request(names, defaults, state.retrain.modelArtifact, state.retrain.evaluation, serving)
    create_once(sagemaker.create_model, model)
    create_once(sagemaker.create_endpoint_config, endpoint_config_request(names, state.config.endpoint))

    def result(action: str, status: str) -> EndpointState:
        return EndpointState(
            name=endpoint_name,
            configName=names.endpointConfig,
            modelName=names.model,
            action=action,  # type: ignore[arg-type]
            status=status,
        )

    current = describe_endpoint_or_none(sagemaker, endpoint_name)
    if current is None:
        try:
            sagemaker.create_endpoint(**create_endpoint_request(endpoint_name, names.endpointConfig))
        except ClientError as exc:
            if is_already_exists(exc):  # created meanwhile: look again on the retry
                raise EndpointBusy(f"Endpoint {endpoint_name} appeared while it was being created") from exc
            raise
        return result("created", "Creating")
    status = current["EndpointStatus"]
    if current.get("EndpointConfigName") == names.endpointConfig:
        return result("in-progress", status)  # a retry of this very step: already switched
    if status in BUSY:
        raise EndpointBusy(f"Endpoint {endpoint_name} is {status}; the update waits until it settles")
    if status == "Failed":
        raise DeploymentFailed(
            f"Endpoint {endpoint_name} is Failed ({current.get('FailureReason') or 'no reason given'}) and "
            f"cannot be updated: delete it (aws sagemaker delete-endpoint --endpoint-name {endpoint_name}) "
            "and start the execution again"
        )
    sagemaker.update_endpoint(**update_endpoint_request(endpoint_name, names.endpointConfig))
    return result("updated", "Updating")


def deploy_endpoint(event: dict[str, Any], sagemaker: Any, defaults: Defaults) -> dict[str, Any]:
    state = PipelineState.model_validate(event)
    with throttling_as_retryable():
        state.endpoint = deploy(sagemaker, state, defaults)
    logger.info("endpoint deployment", extra={"endpoint": state.endpoint.model_dump()})
    metric = "Endpoint" + state.endpoint.action.title().replace("-", "")
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return state.dump()


@instrumented(logger, metrics, tracer)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return deploy_endpoint(event, sagemaker_client(), Defaults.from_env())
