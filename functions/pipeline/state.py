"""The state the state machine's steps pass along, and the output an execution ends with.

Contract: docs/contracts.md#execution-output.

``PipelineState`` is the JSON document each step receives and returns updated (the state
machine's ``$``): the resolved configuration (:mod:`pipeline.config`), the job names and what
each step found; ``ExecutionOutput`` is the summary a successful execution returns. Every model is
built on first use (``defer_build``). Relies on pydantic.
"""

from __future__ import annotations

from typing import Any, Literal

from .config import PipelineConfig, PipelineModel
from .names import JobNames


class ObjectiveValue(PipelineModel):
    metric: str
    type: str | None = None
    value: float | None = None


class TuningState(PipelineModel):
    name: str
    arn: str | None = None
    status: str = "InProgress"
    trainingJobs: dict[str, int] = {}


class BestJob(PipelineModel):
    trainingJob: str
    tunedHyperParameters: dict[str, str]
    hyperParameters: dict[str, str]  # static + tuned, encoded as SageMaker passes them
    objective: ObjectiveValue


class RuleResult(PipelineModel):
    name: str
    status: str
    details: str | None = None
    recommendation: str | None = None


class ProfilerReport(PipelineModel):
    reportUri: str  # s3://.../output/output.tar.gz
    reportPath: str  # the folder inside that archive
    rules: list[RuleResult] = []
    debuggerRules: list[RuleResult] = []


class EvaluationSummary(PipelineModel):
    """The retrain's test evaluation (train.py's evaluation.json, docs/evaluation.md), in brief."""

    top1Accuracy: float
    top5Accuracy: float | None = None
    macroF1: float | None = None
    ece: float | None = None
    images: int | None = None
    testSet: str | None = None  # the test set's fingerprint (sha256:...)
    reportUri: str | None = None  # s3://.../output/output.tar.gz
    reportPath: str | None = None  # evaluation.html inside that archive


class RetrainState(PipelineModel):
    name: str
    arn: str | None = None
    status: str = "InProgress"
    secondaryStatus: str | None = None
    modelArtifact: str | None = None
    outputUri: str | None = None
    finalMetrics: dict[str, float] = {}
    profiler: ProfilerReport | None = None
    evaluation: EvaluationSummary | None = None


class GateDecision(PipelineModel):
    """DeployGate's verdict: whether the retrained model replaces the serving one, and why."""

    deploy: bool
    reason: str
    forced: bool = False
    newAccuracy: float | None = None
    servingModel: str | None = None
    servingAccuracy: float | None = None
    sameTestSet: bool | None = None


class EndpointState(PipelineModel):
    name: str
    configName: str
    modelName: str
    action: Literal["created", "updated", "in-progress"]
    status: str = "Creating"
    failureReason: str | None = None


class ExecutionOutput(PipelineModel):
    """What a successful execution returns (docs/contracts.md#execution-output)."""

    tuningJob: str
    bestTrainingJob: str
    bestHyperparameters: dict[str, Any]
    objective: ObjectiveValue
    retrainJob: str
    modelArtifact: str
    finalMetrics: dict[str, float]
    profiler: ProfilerReport | None
    endpoint: dict[str, str]
    deployed: bool = True
    reason: str | None = None  # the deployment gate's
    evaluation: EvaluationSummary | None = None


class PipelineState(PipelineModel):
    """The document each step receives and returns (the state machine's ``$``)."""

    config: PipelineConfig
    pollSeconds: int
    names: JobNames
    codeUri: str
    tuning: TuningState | None = None
    best: BestJob | None = None
    retrain: RetrainState | None = None
    gate: GateDecision | None = None
    endpoint: EndpointState | None = None
    output: ExecutionOutput | None = None

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
