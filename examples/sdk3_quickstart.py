"""The notebook's flow with SageMaker Python SDK 3.x: ModelTrainer, its tuner, sagemaker.core resources.

Upload the data, train ``training/train.py`` with ``ModelTrainer`` (``SourceCode``: the SDK runs it
through ``ContainerEntrypoint`` and its ``sm_drivers``), tune lr / batch size / epochs on
``valid:accuracy`` with ``sagemaker.train.tuner.HyperparameterTuner``, deploy the best model with
``sagemaker.core.resources`` (Model, EndpointConfig, Endpoint), invoke it with a JPEG (top-5) and
with bytes that are not an image (4xx ModelError), delete the endpoint.

    .venv-sdk3/bin/python examples/sdk3_quickstart.py --role arn:aws:iam::123456789012:role/SageMakerRole
    .venv-sdk3/bin/python examples/sdk3_quickstart.py --local     # or SDK_QUICKSTART_LOCAL=1

``--local`` as in ``examples/sdk_quickstart.py``: every client goes to ``AWS_ENDPOINT_URL``
(default ``http://127.0.0.1:4566``), dummy credentials, a ``default_bucket``, tiny budgets. The role
is ``--role``, else the app stack's ``SageMakerRoleArn`` output (``localcloud up`` deploys
template.yaml): ModelTrainer checks it through IAM, so it must exist.
What both quickstarts share is in ``examples/quickstart_common.py``.
Runs in ``.venv-sdk3`` (``make sdk``): sagemaker 3.x, Pillow (sample data).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quickstart_common import (
    SOURCE_DIR,
    Steps,
    argument_parser,
    local_environment,
    metric_definitions,
    model_error,
    print_predictions,
    sample_data,
    stack_role,
    upload_splits,
)

METRICS = metric_definitions(("train:loss", "valid:loss", "valid:accuracy"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return argument_parser(__doc__.splitlines()[0], prefix="sdk3-quickstart").parse_args(argv)


@dataclass
class Account:
    """Where the flow runs: the SDK session, the boto3 session under it, the role and the region."""

    session: Any
    boto_session: Any
    role: str
    region: str


def connect(args: argparse.Namespace) -> Account:
    """The SDK session (a ``default_bucket`` locally, so no STS call) and the execution role."""
    import boto3
    from sagemaker.train import Session

    region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    boto_session = boto3.Session(region_name=region)
    if args.local:
        session = Session(
            boto_session=boto_session,
            sagemaker_client=boto_session.client("sagemaker"),
            sagemaker_runtime_client=boto_session.client("sagemaker-runtime"),
            default_bucket=args.bucket or "sagemaker-localcloud",
        )
    else:
        session = Session(boto_session=boto_session, default_bucket=args.bucket)
    # ModelTrainer checks the role's trust policy and permissions through IAM: it must exist
    role = args.role or stack_role(boto_session, args.stack)
    if role is None:
        sys.exit(f"no --role given and stack {args.stack} has no SageMakerRoleArn output")
    return Account(session=session, boto_session=boto_session, role=role, region=region)


def pytorch_image(region: str, instance_type: str, scope: str) -> str:
    """The PyTorch 2.5 / py311 container image URI for ``scope`` (training or inference)."""
    from sagemaker.core import image_uris

    uri: str = image_uris.retrieve(
        "pytorch", region, version="2.5", py_version="py311", instance_type=instance_type, image_scope=scope
    )
    return uri


def upload_data(session: Any, args: argparse.Namespace, steps: Steps) -> tuple[list[Any], bytes, str]:
    """The channels as ``InputData``, and a test JPEG to invoke with its true label."""
    from sagemaker.core.training.configs import InputData

    bucket = session.default_bucket()
    t = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or sample_data(Path(tmp) / "data")
        uris = upload_splits(session, bucket, data, args.prefix)
        sample = sorted((data / "test").rglob("*.jpg"))[0]
        jpeg, true_label = sample.read_bytes(), sample.parent.name
    inputs = [InputData(channel_name=split, data_source=uri) for split, uri in uris.items()]
    steps.done("upload_data", t, inputs=uris)
    return inputs, jpeg, true_label


def train(account: Account, args: argparse.Namespace, inputs: list[Any], steps: Steps) -> Any:
    """One training job with ModelTrainer (wait=True, logs=True: the defaults)."""
    from sagemaker.core.shapes import MetricDefinition
    from sagemaker.core.training.configs import Compute, SourceCode, StoppingCondition
    from sagemaker.train import ModelTrainer

    tiny = args.local
    image = pytorch_image(account.region, "ml.m5.xlarge", "training")
    small = {"arch": "resnet18", "pretrained": "none", "image-size": 64, "max-steps-per-epoch": 2}
    trainer = ModelTrainer(
        training_image=image,
        source_code=SourceCode(source_dir=str(SOURCE_DIR), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1, volume_size_in_gb=10),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=1800 if tiny else 4 * 3600),
        hyperparameters={**small, "epochs": 1, "batch-size": 8}
        if tiny
        else {"arch": "resnet50", "epochs": 5},
        role=account.role,
        sagemaker_session=account.session,
        base_job_name=args.prefix,
    ).with_metric_definitions([MetricDefinition(name=m["Name"], regex=m["Regex"]) for m in METRICS])

    t = time.monotonic()
    trainer.train(input_data_config=inputs)  # wait=True, logs=True: the defaults
    job = trainer._latest_training_job
    steps.done("train", t, job=job.training_job_name, status=job.training_job_status)
    return trainer


def tune(trainer: Any, args: argparse.Namespace, inputs: list[Any], steps: Steps) -> str:
    """Tune lr / batch size / epochs on valid:accuracy; returns the best training job's name."""
    from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
    from sagemaker.train.tuner import HyperparameterTuner

    tiny = args.local
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="valid:accuracy",
        metric_definitions=METRICS,
        hyperparameter_ranges={
            "lr": ContinuousParameter(0.0005, 0.005, scaling_type="Logarithmic"),
            "batch-size": CategoricalParameter([4, 8] if tiny else [16, 32, 64]),
            "epochs": IntegerParameter(1, 2 if tiny else 10),
        },
        strategy="Random",
        max_jobs=args.max_jobs or (2 if tiny else 12),
        max_parallel_jobs=1 if tiny else 3,
        base_tuning_job_name=args.prefix,
    )
    t = time.monotonic()
    tuner.tune(inputs=inputs)
    best_name: str = tuner.best_training_job()
    steps.done("tune", t, tuning_job=tuner.latest_tuning_job.hyper_parameter_tuning_job_name, best=best_name)
    return best_name


@dataclass
class Deployment:
    name: str
    model: Any
    config: Any
    endpoint: Any


def deploy(account: Account, args: argparse.Namespace, best_name: str, steps: Steps) -> Deployment:
    """The best job's model behind an endpoint, with sagemaker.core resources."""
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model
    from sagemaker.core.shapes import ContainerDefinition, ProductionVariant

    boto_session, region = account.boto_session, account.region
    best = account.session.sagemaker_client.describe_training_job(TrainingJobName=best_name)
    model_data = best["ModelArtifacts"]["S3ModelArtifacts"]
    serving_image = pytorch_image(account.region, "ml.m5.large", "inference")
    name = f"{args.prefix}-{int(time.time())}"
    t = time.monotonic()
    model = Model.create(
        model_name=name,
        primary_container=ContainerDefinition(
            image=serving_image,
            model_data_url=model_data,
            environment={"SAGEMAKER_PROGRAM": "inference.py"},
        ),
        execution_role_arn=account.role,
        session=boto_session,
        region=region,
    )
    config = EndpointConfig.create(
        endpoint_config_name=name,
        production_variants=[
            ProductionVariant(
                variant_name="AllTraffic",
                model_name=model.model_name,
                initial_instance_count=1,
                instance_type="ml.m5.large",
            )
        ],
        session=boto_session,
        region=region,
    )
    endpoint = Endpoint.create(
        endpoint_name=name,
        endpoint_config_name=config.endpoint_config_name,
        session=boto_session,
        region=region,
    )
    endpoint.wait_for_status("InService", poll=2)
    steps.done("deploy", t, endpoint=name, model_data=model_data)
    return Deployment(name=name, model=model, config=config, endpoint=endpoint)


def invoke_and_delete(
    deployed: Deployment, args: argparse.Namespace, jpeg: bytes, true_label: str, steps: Steps
) -> None:
    """Invoke with the JPEG (top-k) and with bytes that are not an image; then delete all three."""
    endpoint = deployed.endpoint
    try:
        t = time.monotonic()
        response = endpoint.invoke(
            body=jpeg, content_type="image/jpeg", accept=f"application/json; top_k={args.top_k}"
        )
        top = json.loads(response.body.read())["predictions"]
        print_predictions(true_label, top)
        steps.done("invoke", t, true_label=true_label, predictions=top)

        t = time.monotonic()
        try:
            endpoint.invoke(body=b"this is not an image", content_type="image/jpeg")
        except Exception as error:  # botocore's ModelError (a ClientError)
            steps.done("invoke_non_image", t, **model_error(error))
        else:
            steps.done("invoke_non_image", t, error=None)
    finally:
        t = time.monotonic()
        endpoint.delete()
        deployed.config.delete()
        deployed.model.delete()
        steps.done("delete_endpoint", t, endpoint=deployed.name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SDK 3.x leaves logging to the application: INFO shows the job's log lines train() streams
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.local:
        print(f"localcloud at {local_environment()}")
    steps = Steps()
    account = connect(args)
    inputs, jpeg, true_label = upload_data(account.session, args, steps)
    trainer = train(account, args, inputs, steps)
    best_name = tune(trainer, args, inputs, steps)
    deployed = deploy(account, args, best_name, steps)
    invoke_and_delete(deployed, args, jpeg, true_label, steps)
    steps.finish(args.report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
