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
The SDK calls are the same in both modes; what both quickstarts share is in
``examples/quickstart_common.py``. Runs in the SDK's own venv (``make sdk``: ``.venv-sdk``); needs
sagemaker 2.x, Pillow and numpy (sample data from ``training/classifier/sample_data.py``) and
pandas (``training_job_analytics``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
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

LOCAL_ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"
METRICS = metric_definitions(
    ("train:loss", "train:accuracy", "valid:loss", "valid:accuracy", "test:accuracy")
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argument_parser(__doc__.splitlines()[0], prefix="sdk-quickstart")
    parser.add_argument("--instance-type", default=None, help="training instance type")
    parser.add_argument("--endpoint-instance-type", default=None)
    parser.add_argument("--max-parallel-jobs", type=int, default=None)
    return parser.parse_args(argv)


def sagemaker_session(args: argparse.Namespace) -> tuple[Any, str]:
    """The SDK session (a ``default_bucket`` locally, so no STS call) and the execution role."""
    import boto3
    import sagemaker

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
    return session, role


def upload_data(session: Any, args: argparse.Namespace, steps: Steps) -> tuple[dict[str, str], bytes, str]:
    """1. Data: one upload per split; the URIs exactly as upload_data returns them.

    Returns the channels, and a JPEG to predict with its true label.
    """
    bucket = session.default_bucket()
    t = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or sample_data(Path(tmp) / "data")
        inputs = upload_splits(session, bucket, data, args.prefix)
        sample_jpeg = next(
            iter(sorted((data / "test").rglob("*.jpg")) or sorted((data / "valid").rglob("*.jpg")))
        )
        jpeg = sample_jpeg.read_bytes()
        true_label = sample_jpeg.parent.name
    steps.done("upload_data", t, inputs=inputs)
    return inputs, jpeg, true_label


def fit(session: Any, role: str, args: argparse.Namespace, inputs: dict[str, str], steps: Steps) -> Any:
    """2. One training job with the SDK's defaults (logs="All", wait=True); its metrics."""
    from sagemaker.pytorch import PyTorch

    tiny = args.local
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
        instance_type=args.instance_type or "ml.m5.xlarge",
        hyperparameters=hyperparameters,
        metric_definitions=METRICS,
        output_path=f"s3://{session.default_bucket()}/{args.prefix}/output",
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
    return estimator


def tune(session: Any, estimator: Any, args: argparse.Namespace, inputs: dict[str, str], steps: Steps) -> Any:
    """3. Tune lr / batch size / epochs on valid:accuracy; attach to the tuner and the best job."""
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import (
        CategoricalParameter,
        ContinuousParameter,
        HyperparameterTuner,
        IntegerParameter,
    )

    tiny = args.local
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
    return best


def deploy_and_predict(
    best: Any, args: argparse.Namespace, jpeg: bytes, true_label: str, steps: Steps
) -> None:
    """4. Deploy the best model with the serving handlers (training/inference.py), predict, delete."""
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.serializers import IdentitySerializer

    t = time.monotonic()
    predictor = best.deploy(
        initial_instance_count=1,
        instance_type=args.endpoint_instance_type or "ml.m5.large",
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
        print_predictions(true_label, top)
        steps.done("predict", t, true_label=true_label, predictions=top)

        t = time.monotonic()
        try:
            predictor.predict(b"this is not an image")
        except Exception as error:  # the SDK raises botocore's ModelError (a ClientError)
            steps.done("predict_non_image", t, **model_error(error))
        else:
            steps.done("predict_non_image", t, error=None)
    finally:
        t = time.monotonic()
        predictor.delete_endpoint()
        steps.done("delete_endpoint", t, endpoint=predictor.endpoint_name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.local:
        url = local_environment()
        print(f"localcloud at {url}")
    steps = Steps()
    session, role = sagemaker_session(args)
    inputs, jpeg, true_label = upload_data(session, args, steps)
    estimator = fit(session, role, args, inputs, steps)
    best = tune(session, estimator, args, inputs, steps)
    deploy_and_predict(best, args, jpeg, true_label, steps)
    steps.finish(args.report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
