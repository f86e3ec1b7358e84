"""Helpers for the pipeline tests: request checks, sample states, fake Lambda context.

``request_problems`` checks a SageMaker request twice: against botocore's service model via
localcloud.validation (types, required members, unknown keys, patterns, lengths, enums: what
SageMaker's servers enforce) and against rules SageMaker documents but no model encodes: the
tuning rules through localcloud's implementation (localcloud.sagemaker.tuning_plan.make_plan),
the rest (names, spot waits, script mode's hyperparameters, channel URIs) here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from localcloud.errors import AwsError
from localcloud.sagemaker.tuning_plan import make_plan
from localcloud.validation import validation_errors

NAME_LIMITS = {
    "HyperParameterTuningJobName": 32,
    "TrainingJobName": 63,
    "ModelName": 63,
    "EndpointConfigName": 63,
    "EndpointName": 63,
}
NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")
S3_RE = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.*")


def _documented_rules(operation: str, params: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for key, limit in NAME_LIMITS.items():
        if key in params:
            name = params[key]
            if len(name) > limit or not NAME_RE.fullmatch(name):
                problems.append(f"{key} {name!r} breaks SageMaker's naming rule (<= {limit})")
            if name != name.lower():
                problems.append(f"{key} {name!r} is not lower case (IAM policies match lower-case ARNs)")

    if operation == "CreateHyperParameterTuningJob":
        # SageMaker's tuning rules have one implementation, localcloud's (checked against AWS's
        # documented examples in test_localcloud_sm_tuning_rules.py); no copy of them here.
        try:
            make_plan(params)
        except AwsError as err:
            problems.append(f"{err.code}: {err.message}")
        problems += _training_rules(
            params["TrainingJobDefinition"], params["TrainingJobDefinition"].get("StaticHyperParameters", {})
        )
    if operation == "CreateTrainingJob":
        problems += _training_rules(params, params.get("HyperParameters", {}))
        if "CheckpointConfig" in params and not S3_RE.fullmatch(params["CheckpointConfig"]["S3Uri"]):
            problems.append("CheckpointConfig.S3Uri is not an s3:// URI")
    if operation == "CreateModel":
        env = params["PrimaryContainer"].get("Environment", {})
        if env.get("SAGEMAKER_SUBMIT_DIRECTORY") != "/opt/ml/model/code":
            problems.append("the model must run its own code/ (SAGEMAKER_SUBMIT_DIRECTORY)")
    return problems


def _training_rules(definition: dict[str, Any], hyperparameters: dict[str, str]) -> list[str]:
    problems = []
    stopping = definition["StoppingCondition"]
    if definition.get("EnableManagedSpotTraining"):
        if stopping.get("MaxWaitTimeInSeconds", 0) < stopping["MaxRuntimeInSeconds"]:
            problems.append("spot training needs MaxWaitTimeInSeconds >= MaxRuntimeInSeconds")
    elif "MaxWaitTimeInSeconds" in stopping:
        problems.append("MaxWaitTimeInSeconds only with managed spot training")
    for key in ("sagemaker_program", "sagemaker_submit_directory"):
        if key not in hyperparameters:
            problems.append(f"script mode needs the {key} hyperparameter")
    if "sagemaker_submit_directory" in hyperparameters:
        uri = json.loads(hyperparameters["sagemaker_submit_directory"])
        if not (S3_RE.fullmatch(uri) and uri.endswith("/sourcedir.tar.gz")):
            problems.append(f"sagemaker_submit_directory {uri!r} is not an s3:// sourcedir.tar.gz")
    if any(not isinstance(v, str) for v in hyperparameters.values()):
        problems.append("hyperparameter values must be strings")
    for channel in definition.get("InputDataConfig", []):
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        if not (S3_RE.fullmatch(uri) or uri.startswith("file:///")):
            problems.append(f"channel {channel['ChannelName']}: bad URI {uri!r}")
    return problems


def request_problems(operation: str, params: dict[str, Any]) -> list[str]:
    """Everything SageMaker would reject in ``params`` (empty when the request is acceptable)."""
    return validation_errors("sagemaker", operation, params) + _documented_rules(operation, params)


@dataclass
class FakeContext:
    """The attributes powertools' Logger reads from a LambdaContext."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sample_state(defaults: Any, execution: str = "run-2026-01-01", execution_input: Any = None) -> Any:
    """A pipeline state right after StartTuning, for the later steps' tests."""
    from pipeline.execution_input import resolve_config
    from pipeline.names import job_names
    from pipeline.state import PipelineState, TuningState

    config = resolve_config(execution_input or {}, defaults)
    names = job_names(defaults.jobPrefix, execution)
    return PipelineState(
        config=config,
        pollSeconds=config.pollSeconds,
        names=names,
        codeUri=f"s3://{defaults.bucket}/code/0123456789ab/sourcedir.tar.gz",
        tuning=TuningState(
            name=names.tuningJob,
            arn=f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{names.tuningJob}",
        ),
    )


NOW = __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC)
ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def tuning_description(
    name: str, status: str, best: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A DescribeHyperParameterTuningJob response (every member botocore requires)."""
    response: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": f"{ARN}:hyper-parameter-tuning-job/{name}",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": NOW,
        "TrainingJobStatusCounters": extra.pop("counters", {"Completed": 3, "InProgress": 1}),
        "ObjectiveStatusCounters": {"Succeeded": 3, "Pending": 1, "Failed": 0},
    }
    if best is not None:
        response["BestTrainingJob"] = best
    response.update(extra)
    return response


def training_description(name: str, status: str, **extra: Any) -> dict[str, Any]:
    """A DescribeTrainingJob response (every member botocore requires)."""
    response: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"{ARN}:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://pipeline-bucket-abc/models/{name}/output/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training" if status == "InProgress" else status,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": NOW,
        "OutputDataConfig": {"S3OutputPath": "s3://pipeline-bucket-abc/models/"},
    }
    response.update(extra)
    return response


def endpoint_description(name: str, status: str, config: str, **extra: Any) -> dict[str, Any]:
    """A DescribeEndpoint response (every member botocore requires)."""
    response: dict[str, Any] = {
        "EndpointName": name,
        "EndpointArn": f"{ARN}:endpoint/{name}",
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": NOW,
        "LastModifiedTime": NOW,
    }
    response.update(extra)
    return response
