"""Fixtures for the pipeline's Lambda tests: stubbed boto3 clients, a Lambda environment, code.

Every AWS call goes through botocore's Stubber (exact request shapes, no network); the Lambda
environment mirrors template.yaml's Globals with fixed values.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from pipeline import aws, code_package, hyperparameters
from pipeline.config import Defaults

ACCOUNT = "123456789012"
BUCKET = "pipeline-bucket-abc"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/pipeline-SageMakerExecutionRole-X1"
TRAINING_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
    "pytorch-training:2.6.0-gpu-py312-cu126-ubuntu22.04-sagemaker"
)
INFERENCE_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312-ubuntu22.04-sagemaker"
)

LAMBDA_ENV = {
    "BUCKET_NAME": BUCKET,
    "SAGEMAKER_ROLE_ARN": ROLE_ARN,
    "TRAINING_IMAGE_URI": TRAINING_IMAGE,
    "INFERENCE_IMAGE_URI": INFERENCE_IMAGE,
    "DEBUGGER_RULE_IMAGE_URI": "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest",
    "JOB_NAME_PREFIX": "dogs",
    "DATASET_PREFIX": "dogImages",
    "TUNING_STRATEGY": "Bayesian",
    "TUNING_MAX_JOBS": "8",
    "TUNING_MAX_PARALLEL_JOBS": "2",
    "TUNING_EARLY_STOPPING": "Auto",
    "TRAINING_INSTANCE_TYPE": "ml.g4dn.xlarge",
    "TRAINING_INSTANCE_COUNT": "1",
    "TRAINING_USE_SPOT": "false",
    "TRAINING_MAX_RUNTIME_SECONDS": "86400",
    "TRAINING_VOLUME_GB": "50",
    "ENDPOINT_NAME": "dog-breeds",
    "ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
    "ENDPOINT_INSTANCE_COUNT": "1",
    "POLL_SECONDS": "60",
    "ENABLE_SAGEMAKER_DEBUGGER": "false",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real credentials, no endpoint override: a call that escapes the Stubber fails."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PipelineTests")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "pipeline-tests")


@pytest.fixture
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in LAMBDA_ENV.items():
        monkeypatch.setenv(key, value)
    return dict(LAMBDA_ENV)


@pytest.fixture
def defaults() -> Defaults:
    return Defaults.from_env(LAMBDA_ENV)


def _stubbed(service: str) -> Iterator[tuple[Any, Stubber]]:
    """A client as the functions make it (their trimmed service models): a call the trimmed model
    lacks fails here, and every request is checked against the model the functions ship."""
    client = aws.new_session().create_client(service, region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sm() -> Iterator[tuple[Any, Stubber]]:
    yield from _stubbed("sagemaker")


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    yield from _stubbed("s3")


@pytest.fixture
def runtime() -> Iterator[tuple[Any, Stubber]]:
    yield from _stubbed("sagemaker-runtime")


@pytest.fixture
def training_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small stand-in for training/ (the real one is checked in test_pipeline_code_package)."""
    root = tmp_path / "training"
    (root / "classifier" / "__pycache__").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "train.py").write_text("print('train')\n")
    (root / "inference.py").write_text("def model_fn(model_dir):\n    return None\n")
    (root / "requirements.txt").write_text("pillow\n")
    (root / "classifier" / "__init__.py").write_text('"""classifier"""\n')
    spec = hyperparameters.SPEC_FILE  # the real rules: StartTuning checks the input against them
    (root / spec).write_bytes((code_package.CODE_DIR / spec).read_bytes())
    (root / "classifier" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0junk")
    (root / "tests" / "test_x.py").write_text("def test(): pass\n")
    (root / ".hidden").write_text("secret\n")
    monkeypatch.setattr(code_package, "CODE_DIR", root)
    return root
