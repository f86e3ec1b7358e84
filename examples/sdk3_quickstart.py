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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE_DIR = REPO / "training"
LOCAL_ENDPOINT = "http://127.0.0.1:4566"
METRICS = [
    {"Name": name, "Regex": f"{name.replace(':', '_')}=([0-9.]+)"}
    for name in ("train:loss", "valid:loss", "valid:accuracy")
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--local",
        action="store_true",
        default=os.environ.get("SDK_QUICKSTART_LOCAL", "").lower() in ("1", "true", "yes"),
        help="run against localcloud (AWS_ENDPOINT_URL, default http://127.0.0.1:4566)",
    )
    parser.add_argument("--data", type=Path, help="dataset root with train/ valid/ [test/] class folders")
    parser.add_argument(
        "--role", help="SageMaker execution role ARN (default: the app stack's SageMakerRoleArn output)"
    )
    parser.add_argument(
        "--stack", default="image-classifier-pipeline", help="the app's stack (samconfig.toml)"
    )
    parser.add_argument("--bucket", help="S3 bucket (default: the SDK's default bucket)")
    parser.add_argument("--prefix", default="sdk3-quickstart")
    parser.add_argument("--max-jobs", type=int, default=None, help="tuning trials")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--report", type=Path, help="write what each step returned as JSON here")
    return parser.parse_args(argv)


class Steps:
    """Prints each step with its wall time and keeps what it returned for ``--report``."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.report: dict[str, Any] = {"steps": {}}

    def done(self, name: str, started: float, **facts: Any) -> None:
        seconds = round(time.monotonic() - started, 2)
        self.report["steps"][name] = {"seconds": seconds, **facts}
        print(f"== {name}: {seconds:.1f}s {json.dumps(facts, default=str)[:400]}", flush=True)


def sample_data(root: Path) -> Path:
    """A tiny ImageFolder data set drawn by the repo's own generator (no download)."""
    sys.path.insert(0, str(SOURCE_DIR))
    from classifier.sample_data import generate

    return generate(root, classes=5, train_per_class=6, valid_per_class=3, test_per_class=1, size=64)


def stack_role(boto_session: Any, stack: str) -> str | None:
    """The app stack's SageMakerRoleArn output (`sam deploy`, or `localcloud up` with template.yaml)."""
    from botocore.exceptions import ClientError

    try:
        stacks = boto_session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError:
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in s.get("Outputs") or []}
    return outputs.get("SageMakerRoleArn")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SDK 3.x leaves logging to the application: INFO shows the job's log lines train() streams
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.local:
        os.environ.setdefault("AWS_ENDPOINT_URL", LOCAL_ENDPOINT)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        print(f"localcloud at {os.environ['AWS_ENDPOINT_URL']}")

    import boto3
    from sagemaker.core import image_uris
    from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model
    from sagemaker.core.shapes import ContainerDefinition, MetricDefinition, ProductionVariant
    from sagemaker.core.training.configs import Compute, InputData, SourceCode, StoppingCondition
    from sagemaker.train import ModelTrainer, Session
    from sagemaker.train.tuner import HyperparameterTuner

    steps = Steps()
    region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    boto_session = boto3.Session(region_name=region)
    tiny = args.local
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
    bucket = session.default_bucket()

    t = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or sample_data(Path(tmp) / "data")
        uris = {
            split: session.upload_data(
                str(data / split), bucket=bucket, key_prefix=f"{args.prefix}/data/{split}"
            )
            for split in ("train", "valid", "test")
            if (data / split).is_dir()
        }
        sample = sorted((data / "test").rglob("*.jpg"))[0]
        jpeg, true_label = sample.read_bytes(), sample.parent.name
    inputs = [InputData(channel_name=split, data_source=uri) for split, uri in uris.items()]
    steps.done("upload_data", t, inputs=uris)

    image = image_uris.retrieve(
        "pytorch",
        region,
        version="2.5",
        py_version="py311",
        instance_type="ml.m5.xlarge",
        image_scope="training",
    )
    small = {"arch": "resnet18", "pretrained": "none", "image-size": 64, "max-steps-per-epoch": 2}
    trainer = ModelTrainer(
        training_image=image,
        source_code=SourceCode(source_dir=str(SOURCE_DIR), entry_script="train.py"),
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1, volume_size_in_gb=10),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=1800 if tiny else 4 * 3600),
        hyperparameters={**small, "epochs": 1, "batch-size": 8}
        if tiny
        else {"arch": "resnet50", "epochs": 5},
        role=role,
        sagemaker_session=session,
        base_job_name=args.prefix,
    ).with_metric_definitions([MetricDefinition(name=m["Name"], regex=m["Regex"]) for m in METRICS])

    t = time.monotonic()
    trainer.train(input_data_config=inputs)  # wait=True, logs=True: the defaults
    job = trainer._latest_training_job
    steps.done("train", t, job=job.training_job_name, status=job.training_job_status)

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
    best_name = tuner.best_training_job()
    steps.done("tune", t, tuning_job=tuner.latest_tuning_job.hyper_parameter_tuning_job_name, best=best_name)

    best = session.sagemaker_client.describe_training_job(TrainingJobName=best_name)
    model_data = best["ModelArtifacts"]["S3ModelArtifacts"]
    serving_image = image_uris.retrieve(
        "pytorch",
        region,
        version="2.5",
        py_version="py311",
        instance_type="ml.m5.large",
        image_scope="inference",
    )
    name = f"{args.prefix}-{int(time.time())}"
    t = time.monotonic()
    model = Model.create(
        model_name=name,
        primary_container=ContainerDefinition(
            image=serving_image,
            model_data_url=model_data,
            environment={"SAGEMAKER_PROGRAM": "inference.py"},
        ),
        execution_role_arn=role,
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
    try:
        t = time.monotonic()
        response = endpoint.invoke(
            body=jpeg, content_type="image/jpeg", accept=f"application/json; top_k={args.top_k}"
        )
        top = json.loads(response.body.read())["predictions"]
        print(f"true label {true_label}; top-{len(top)}:")
        for p in top:
            print(f"  {p['label']:<14} {p['probability']:.3f}")
        steps.done("invoke", t, true_label=true_label, predictions=top)

        t = time.monotonic()
        try:
            endpoint.invoke(body=b"this is not an image", content_type="image/jpeg")
        except Exception as error:  # botocore's ModelError (a ClientError)
            response_error = getattr(error, "response", {})
            steps.done(
                "invoke_non_image",
                t,
                error=type(error).__name__,
                code=response_error.get("Error", {}).get("Code"),
                original_status=response_error.get("OriginalStatusCode"),
                message=str(error)[:300],
            )
        else:
            steps.done("invoke_non_image", t, error=None)
    finally:
        t = time.monotonic()
        endpoint.delete()
        config.delete()
        model.delete()
        steps.done("delete_endpoint", t, endpoint=name)
    steps.report["total_seconds"] = round(time.monotonic() - steps.start, 2)
    print(f"total: {steps.report['total_seconds']:.1f}s")
    if args.report:
        args.report.write_text(json.dumps(steps.report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
