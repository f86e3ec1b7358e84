"""The project's original notebook as a script: SageMaker Python SDK 2.x, AWS or localcloud.

Upload the data, train ``training/train.py`` with a ``PyTorch`` estimator, tune lr / batch size /
epochs on ``valid:accuracy``, deploy the best model, predict a JPEG (top-5), delete the endpoint.

    # against AWS (your credentials, a real execution role and bucket):
    .venv-sdk/bin/python examples/sdk_quickstart.py --role arn:aws:iam::123456789012:role/SageMakerRole \
        --data data/dogImages
    # against localcloud (`localcloud up` running; dummy credentials; tiny budgets, sample data):
    .venv-sdk/bin/python examples/sdk_quickstart.py --local

``--local`` (or ``SDK_QUICKSTART_LOCAL=1``) is the only switch: it points every AWS client at
``AWS_ENDPOINT_URL`` (default ``http://127.0.0.1:4566``), uses dummy credentials when none are set,
a ``default_bucket`` (so the SDK needs no STS call) and tiny budgets. The role is ``--role``, else
the app stack's ``SageMakerRoleArn`` output, else (locally; SDK 2.x does not check it) a dummy ARN.
The SDK calls are the same in both modes. Runs in the SDK's own venv (``make sdk``: ``.venv-sdk``); needs
sagemaker 2.x, Pillow and numpy (sample data from ``training/classifier/sample_data.py``) and
pandas (``training_job_analytics``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE_DIR = REPO / "training"
LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
METRICS = [
    {"Name": name, "Regex": f"{name.replace(':', '_')}=([0-9.]+)"}
    for name in ("train:loss", "train:accuracy", "valid:loss", "valid:accuracy", "test:accuracy")
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--local",
        action="store_true",
        default=os.environ.get("SDK_QUICKSTART_LOCAL", "").lower() in ("1", "true", "yes"),
        help="run against localcloud (AWS_ENDPOINT_URL, default http://127.0.0.1:4566); "
        "also SDK_QUICKSTART_LOCAL=1",
    )
    parser.add_argument("--data", type=Path, help="dataset root with train/ valid/ [test/] class folders")
    parser.add_argument(
        "--role", help="SageMaker execution role ARN (default: the app stack's SageMakerRoleArn output)"
    )
    parser.add_argument(
        "--stack", default="image-classifier-pipeline", help="the app's stack (samconfig.toml)"
    )
    parser.add_argument("--bucket", help="S3 bucket (default: the SDK's default bucket)")
    parser.add_argument("--prefix", default="sdk-quickstart")
    parser.add_argument("--instance-type", default=None, help="training instance type")
    parser.add_argument("--endpoint-instance-type", default=None)
    parser.add_argument("--max-jobs", type=int, default=None, help="tuning trials")
    parser.add_argument("--max-parallel-jobs", type=int, default=None)
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

    def finish(self) -> None:
        self.report["total_seconds"] = round(time.monotonic() - self.start, 2)


def sample_data(root: Path) -> Path:
    """A tiny ImageFolder data set drawn by the repo's own generator (no download)."""
    sys.path.insert(0, str(SOURCE_DIR))
    from classifier.sample_data import generate

    return generate(root, classes=5, train_per_class=6, valid_per_class=3, test_per_class=1, size=64, seed=0)


def local_environment() -> str:
    """Point every boto3 client at localcloud; dummy credentials when none are configured."""
    url = os.environ.setdefault("AWS_ENDPOINT_URL", LOCAL_ENDPOINT)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return url


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
    if args.local:
        url = local_environment()
        print(f"localcloud at {url}")

    import boto3
    import sagemaker
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.pytorch import PyTorch
    from sagemaker.serializers import IdentitySerializer
    from sagemaker.tuner import (
        CategoricalParameter,
        ContinuousParameter,
        HyperparameterTuner,
        IntegerParameter,
    )

    steps = Steps()
    boto_session = boto3.Session(region_name=os.environ.get("AWS_DEFAULT_REGION"))
    if args.local:
        session = sagemaker.Session(
            boto_session=boto_session,
            sagemaker_client=boto_session.client("sagemaker"),
            sagemaker_runtime_client=boto_session.client("sagemaker-runtime"),
            default_bucket=args.bucket or "sagemaker-localcloud",
        )
        # SDK 2.x does not check the role: a dummy one works when no app stack is deployed
        role = args.role or stack_role(boto_session, args.stack) or LOCAL_ROLE
    else:
        session = sagemaker.Session(boto_session=boto_session, default_bucket=args.bucket)
        role = args.role or stack_role(boto_session, args.stack) or sagemaker.get_execution_role(session)
    bucket = session.default_bucket()
    tiny = args.local
    instance_type = args.instance_type or "ml.m5.xlarge"
    endpoint_instance_type = args.endpoint_instance_type or "ml.m5.large"

    # 1. Data: one upload per split; the URIs exactly as upload_data returns them.
    t = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or sample_data(Path(tmp) / "data")
        inputs = {
            split: session.upload_data(
                str(data / split), bucket=bucket, key_prefix=f"{args.prefix}/data/{split}"
            )
            for split in ("train", "valid", "test")
            if (data / split).is_dir()
        }
        sample_jpeg = next(
            iter(sorted((data / "test").rglob("*.jpg")) or sorted((data / "valid").rglob("*.jpg")))
        )
        jpeg = sample_jpeg.read_bytes()
        true_label = sample_jpeg.parent.name
    steps.done("upload_data", t, inputs=inputs)

    # 2. One training job with the SDK's defaults (logs="All", wait=True).
    small = {"arch": "resnet18", "pretrained": "none", "image-size": 64, "max-steps-per-epoch": 2}
    hyperparameters = (
        {**small, "epochs": 1, "batch-size": 8, "lr": 0.001}
        if tiny
        else {"arch": "resnet50", "epochs": 5, "batch-size": 32, "lr": 0.001}
    )
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(SOURCE_DIR),
        role=role,
        framework_version="2.5",
        py_version="py311",
        instance_count=1,
        instance_type=instance_type,
        hyperparameters=hyperparameters,
        metric_definitions=METRICS,
        output_path=f"s3://{bucket}/{args.prefix}/output",
        base_job_name="sdk-quickstart",
        max_run=1800 if tiny else 4 * 3600,
        sagemaker_session=session,
    )
    t = time.monotonic()
    estimator.fit(inputs)
    steps.done("fit", t, job=estimator.latest_training_job.name, model_data=estimator.model_data)

    t = time.monotonic()
    metrics = estimator.training_job_analytics.dataframe()
    valid_accuracy = metrics[metrics["metric_name"] == "valid:accuracy"]
    steps.done(
        "training_job_analytics",
        t,
        metric_names=sorted(set(metrics["metric_name"])),
        valid_accuracy=[float(v) for v in valid_accuracy["value"]],
    )

    # 3. Tune lr / batch size / epochs on valid:accuracy.
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="valid:accuracy",
        objective_type="Maximize",
        metric_definitions=METRICS,
        hyperparameter_ranges={
            "lr": ContinuousParameter(0.0005, 0.005, scaling_type="Logarithmic"),
            "batch-size": CategoricalParameter([4, 8] if tiny else [16, 32, 64]),
            "epochs": IntegerParameter(1, 2 if tiny else 10),
        },
        max_jobs=args.max_jobs or (2 if tiny else 12),
        max_parallel_jobs=args.max_parallel_jobs or (1 if tiny else 3),
        base_tuning_job_name="sdk-quickstart",
    )
    t = time.monotonic()
    tuner.fit(inputs)
    tuning_job = tuner.latest_tuning_job.name
    trials = tuner.analytics().dataframe()
    steps.done(
        "tuner_fit",
        t,
        tuning_job=tuning_job,
        trials=len(trials),
        best=tuner.best_training_job(),
    )

    t = time.monotonic()
    best = tuner.best_estimator()
    attached_tuner = HyperparameterTuner.attach(tuning_job, sagemaker_session=session)
    attached = Estimator.attach(best.latest_training_job.name, sagemaker_session=session)
    steps.done(
        "attach",
        t,
        best_job=best.latest_training_job.name,
        best_hyperparameters=best.hyperparameters(),
        attached_tuner_objective=attached_tuner.objective_metric_name,
        attached_tuner_best=attached_tuner.best_training_job(),
        attached_model_data=attached.model_data,
    )

    # 4. Deploy the best model with the serving handlers (training/inference.py) and predict.
    t = time.monotonic()
    predictor = best.deploy(
        initial_instance_count=1,
        instance_type=endpoint_instance_type,
        entry_point="inference.py",
        source_dir=str(SOURCE_DIR),
        serializer=IdentitySerializer("image/jpeg"),
        deserializer=JSONDeserializer(),
    )
    steps.done("deploy", t, endpoint=predictor.endpoint_name)
    try:
        t = time.monotonic()
        result = predictor.predict(jpeg, initial_args={"Accept": f"application/json; top_k={args.top_k}"})
        top = result["predictions"]
        print(f"true label {true_label}; top-{len(top)}:")
        for p in top:
            print(f"  {p['label']:<14} {p['probability']:.3f}")
        steps.done("predict", t, true_label=true_label, predictions=top)

        t = time.monotonic()
        try:
            predictor.predict(b"this is not an image")
        except Exception as error:  # the SDK raises botocore's ModelError (a ClientError)
            response = getattr(error, "response", {})
            steps.done(
                "predict_non_image",
                t,
                error=type(error).__name__,
                code=response.get("Error", {}).get("Code"),
                original_status=response.get("OriginalStatusCode"),
                message=str(error)[:300],
            )
        else:
            steps.done("predict_non_image", t, error=None)
    finally:
        t = time.monotonic()
        predictor.delete_endpoint()
        steps.done("delete_endpoint", t, endpoint=predictor.endpoint_name)
    steps.finish()
    print(f"total: {steps.report['total_seconds']:.1f}s")
    if args.report:
        args.report.write_text(json.dumps(steps.report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
