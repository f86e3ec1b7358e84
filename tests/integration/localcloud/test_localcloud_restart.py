"""localcloud killed with SIGKILL and started again on the same state: jobs and endpoints carry on.

- a real train.py job killed mid-training finishes from its checkpoint;
- a job with nothing to resume from is Failed with a reason naming the restart;
- a tuning job carries on and completes all its training jobs;
- an endpoint comes back InService and answers.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from classifier.sample_data import generate
from support.localcloud_proc import LocalCloudProcess
from support.sagemaker_jobs import (
    MINI_TRAIN,
    ROLE,
    TINY,
    channels,
    finished_training_job,
    finished_tuning_job,
    real_source,
    tarball,
    training_log,
    training_request,
    upload_dataset,
    wait_for,
)

pytestmark = pytest.mark.slow

BUCKET = "restart-tests"
# Runs up to 5 minutes: it must still be running when localcloud is killed, which waits for the
# resumable job's first epoch (over 30 s on a loaded machine); the restart then fails it at once.
NO_CHECKPOINT = "import time\nfor i in range(300):\n    print(f'step {i}', flush=True)\n    time.sleep(1)\n"
ECHO_INFERENCE = textwrap.dedent("""
    import json, os
    def model_fn(model_dir):
        return json.load(open(os.path.join(model_dir, "model.json")))
    def input_fn(body, content_type):
        return json.loads(body)
    def predict_fn(data, model):
        return {"answer": data["x"] * model["scale"]}
    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
""")


def _wait_log(state_dir: Path, job: str, text: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in training_log(state_dir, job):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{text!r} never appeared in {job}'s log:\n{training_log(state_dir, job)[-3000:]}"
            )
        time.sleep(0.2)


def server_tmp_dirs(lc: LocalCloudProcess) -> list[Path]:
    """The model servers' /tmp folders (``TMPDIR``) in the state dir."""
    return sorted((lc.state_dir / "sagemaker" / "endpoint-tmp").iterdir())


def create_echo_endpoint(s3: Any, sm: Any) -> None:
    """Endpoint ``echo``: one server of the echo model (ECHO_INFERENCE, scale 3)."""
    s3.put_object(
        Bucket=BUCKET,
        Key="models/echo.tar.gz",
        Body=tarball(
            {
                "model.json": json.dumps({"scale": 3}).encode(),
                "code/inference.py": ECHO_INFERENCE.encode(),
            }
        ),
    )
    sm.create_model(
        ModelName="echo",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "echo", "ModelDataUrl": f"s3://{BUCKET}/models/echo.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="echo",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "echo",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.t2.medium",
            }
        ],
    )
    sm.create_endpoint(EndpointName="echo", EndpointConfigName="echo")


def test_kill_and_restart_resumes_jobs_and_endpoints(tmp_path: Path) -> None:
    lc = LocalCloudProcess(tmp_path / "state").start()
    try:
        s3, sm = lc.client("s3"), lc.client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        root = generate(
            tmp_path / "data",
            classes=3,
            train_per_class=10,
            valid_per_class=3,
            test_per_class=3,
            size=32,
            seed=1,
        )
        upload_dataset(s3, BUCKET, root)
        s3.put_object(Bucket=BUCKET, Key="code/real.tar.gz", Body=real_source())
        s3.put_object(Bucket=BUCKET, Key="code/mini.tar.gz", Body=tarball({"train.py": MINI_TRAIN.encode()}))
        s3.put_object(
            Bucket=BUCKET, Key="code/plain.tar.gz", Body=tarball({"train.py": NO_CHECKPOINT.encode()})
        )
        create_echo_endpoint(s3, sm)
        data = channels(BUCKET, "data/")
        output = f"s3://{BUCKET}/output/"

        sm.create_training_job(
            **training_request(
                "resumable",
                code_uri=f"s3://{BUCKET}/code/real.tar.gz",
                data=data,
                output=output,
                hyperparameters={**TINY, "epochs": "3", "max-steps-per-epoch": "2"},
                CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/resumable/"},
            )
        )
        sm.create_training_job(
            **training_request(
                "no-checkpoint",
                code_uri=f"s3://{BUCKET}/code/plain.tar.gz",
                data=data[:1],
                output=output,
                hyperparameters={},
            )
        )
        definition = training_request(
            "x",
            code_uri=f"s3://{BUCKET}/code/mini.tar.gz",
            data=data[:1],
            output=output,
            hyperparameters={"epochs": "3", "sleep": "0.4"},
        )
        definition.pop("TrainingJobName")
        definition["StaticHyperParameters"] = definition.pop("HyperParameters")
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="survives",
            TrainingJobDefinition=definition,
            HyperParameterTuningJobConfig={
                "Strategy": "Random",
                "RandomSeed": 5,
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "valid:accuracy"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.1", "MaxValue": "0.9"}]
                },
            },
        )
        wait_for(
            lambda: sm.describe_endpoint(EndpointName="echo"), "EndpointStatus", ("InService",), timeout=60
        )
        _wait_log(lc.state_dir, "resumable", "epoch=1 ")  # epoch 1 done: its checkpoint is written
        _wait_log(lc.state_dir, "no-checkpoint", "step 3")

        before = server_tmp_dirs(lc)
        assert len(before) == 1  # the echo endpoint's server's /tmp
        server_pid = lc.pid
        lc.kill()
        assert (
            not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
        )
        lc.start()

        resumed = finished_training_job(sm, "resumable", timeout=240)
        assert resumed["TrainingJobStatus"] == "Completed", resumed.get("FailureReason")
        assert "Restarting" in [t["Status"] for t in resumed["SecondaryStatusTransitions"]]
        assert "resumed from checkpoint epoch=" in training_log(lc.state_dir, "resumable")
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/resumable/")["KeyCount"] >= 1
        assert resumed["ModelArtifacts"]["S3ModelArtifacts"].endswith("/resumable/output/model.tar.gz")

        failed = sm.describe_training_job(TrainingJobName="no-checkpoint")
        assert failed["TrainingJobStatus"] == "Failed"
        assert "localcloud restarted" in failed["FailureReason"]

        tuning = finished_tuning_job(sm, "survives", timeout=180)
        assert tuning["HyperParameterTuningJobStatus"] == "Completed", tuning.get("FailureReason")
        assert tuning["TrainingJobStatusCounters"]["Completed"] == 3

        endpoint = sm.describe_endpoint(EndpointName="echo")
        assert endpoint["EndpointStatus"] == "InService"
        answer = lc.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="echo", Body=json.dumps({"x": 14}), ContentType="application/json"
        )
        assert json.loads(answer["Body"].read()) == {"answer": 42}
        assert len(server_tmp_dirs(lc)) == 1 and server_tmp_dirs(lc) != before  # the orphan's went
    finally:
        lc.stop()
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if str(lc.state_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], [p.info["cmdline"] for p in leftovers]
