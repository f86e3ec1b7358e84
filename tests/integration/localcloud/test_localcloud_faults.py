"""Fault injection: the whole localcloud process tree is SIGKILLed (a lost host) at each phase of
a real pipeline execution and of a Lambda task, then ``localcloud up`` runs again on the same state.

Phases, on one execution of the real template (kill points on observable events, never sleeps):
a tuning trial before and after its first checkpoint, the profiled retrain before and after its
first checkpoint, the endpoint Creating; then the endpoint Updating (UpdateEndpoint on the
deployed endpoint). The execution SUCCEEDS with exactly the trials it asked for, one retrain, one
endpoint, every S3 object readable and intact, no process of the lost tree left. Separately: a
Lambda task killed mid-invocation is invoked again and its execution succeeds; RetryStrategy
retries a lost job from scratch and gives up after MaximumRetryAttempts, while a script's own
non-zero exit is never retried. The test prints the epochs each phase redid (``-s``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from localcloud_testkit import ROLE as APP_ROLE
from localcloud_testkit import TEMPLATE as FIXTURE_TEMPLATE
from localcloud_testkit import physical, wait_execution

from classifier.sample_data import generate
from support.localcloud_proc import REPO, LocalCloudProcess
from support.sagemaker_jobs import (
    MINI_TRAIN,
    TERMINAL,
    channels,
    tarball,
    training_log,
    training_request,
    wait_for,
)

pytestmark = pytest.mark.slow

EPOCH_LINE = re.compile(r"^epoch=(\d+) ", re.MULTILINE)
EPOCHS = 2


def until(check: Callable[[], Any], what: str, timeout: float = 300.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def job_dir(lc: LocalCloudProcess, job: str) -> Path:
    return lc.state_dir / "sagemaker" / "training-jobs" / job


def has_checkpoint(lc: LocalCloudProcess, job: str) -> bool:
    return (job_dir(lc, job) / "checkpoints" / "checkpoint.pt").is_file()


def training(lc: LocalCloudProcess, job: str) -> dict[str, Any]:
    return dict(lc.client("sagemaker").describe_training_job(TrainingJobName=job))


def crash_and_restart(lc: LocalCloudProcess) -> None:
    """The lost host: every process of the tree at once, then a fresh ``localcloud up``."""
    killed = lc.kill_tree()
    assert killed and not [pid for pid in killed if psutil.pid_exists(pid) and _live(pid)]
    lc.start()


def _live(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def epochs_run(lc: LocalCloudProcess, job: str) -> list[int]:
    return [int(n) for n in EPOCH_LINE.findall(training_log(lc.state_dir, job))]


def kill_in_training(lc: LocalCloudProcess, job: str, *, checkpointed: bool) -> int:
    """Kill while ``job`` trains, before its first checkpoint or right after one is written, and
    bring localcloud back; returns how many epochs the job had finished when it was killed."""
    if checkpointed:
        until(lambda: has_checkpoint(lc, job), f"{job}'s first checkpoint")
    else:
        until(
            lambda: training(lc, job)["SecondaryStatus"] == "Training" and not epochs_run(lc, job),
            f"{job} training",
        )
    lc.kill_tree()
    assert has_checkpoint(lc, job) is checkpointed, "the kill point missed its phase"
    finished = len(epochs_run(lc, job))
    lc.start()
    return finished


def resumed_at(lc: LocalCloudProcess, job: str) -> int:
    found = re.findall(r"resumed from checkpoint epoch=(\d+)", training_log(lc.state_dir, job))
    assert len(found) == 1, found
    return int(found[0])


def state_machine(lc: LocalCloudProcess) -> str:
    stack = lc.client("cloudformation").describe_stacks()["Stacks"][0]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "StateMachineArn")


def trials(lc: LocalCloudProcess, tuning_job: str) -> list[str]:
    sm = lc.client("sagemaker")
    found = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
    return sorted(s["TrainingJobName"] for s in found["TrainingJobSummaries"])


def check_bucket_objects(lc: LocalCloudProcess) -> int:
    """Every object reads back whole: its bytes hash to its ETag, tarballs open; returns the count."""
    s3 = lc.client("s3")
    count = 0
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
                assert len(body) == item["Size"], item["Key"]
                etag = item["ETag"].strip('"')
                if "-" not in etag:
                    assert hashlib.md5(body).hexdigest() == etag, item["Key"]
                if item["Key"].endswith(".tar.gz"):
                    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
                        for member in archive.getmembers():
                            if member.isfile():
                                assert archive.extractfile(member) is not None
                count += 1
    return count


def pipeline_input(data: Path) -> dict[str, Any]:
    """A two-trial tuning, one retrain and one endpoint on ``data`` (file:// channels)."""
    return {
        "data": {split: (data / split).as_uri() + "/" for split in ("train", "valid", "test")},
        "tuning": {
            "strategy": "Random",
            "maxJobs": 2,
            "maxParallelJobs": 1,
            "earlyStopping": "Off",
            "objective": {"metric": "valid:accuracy", "type": "Maximize"},
            "ranges": {"lr": {"min": 0.0005, "max": 0.003, "scaling": "Logarithmic"}},
            "static": {
                "arch": "resnet18",
                "pretrained": "none",
                "image-size": 64,
                "epochs": EPOCHS,
                "batch-size": 8,
                "num-workers": 0,
            },
        },
        "training": {"instanceType": "ml.m5.xlarge", "instanceCount": 1, "spot": False},
        "endpoint": {"instanceType": "ml.m5.large", "instanceCount": 1},
        "pollSeconds": 1,
    }


def assert_each_job_ran_once(lc: LocalCloudProcess, tuning_job: str, retrain: str, endpoint: str) -> None:
    """Exactly the jobs the execution asked for, each completed once under its own name."""
    sm = lc.client("sagemaker")
    trial_names = trials(lc, tuning_job)
    assert len(trial_names) == 2, trial_names
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2, tuning["TrainingJobStatusCounters"]
    every_job = [j["TrainingJobName"] for j in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]]
    assert sorted(every_job) == sorted([*trial_names, retrain]), every_job
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == [endpoint]


def assert_restarted_twice(lc: LocalCloudProcess, job: str) -> None:
    """Killed before and after its first checkpoint: restarted from scratch, then from the checkpoint."""
    described = training(lc, job)
    assert described["TrainingJobStatus"] == "Completed"
    restarts = [t for t in described["SecondaryStatusTransitions"] if t["Status"] == "Restarting"]
    assert len(restarts) == 2, described["SecondaryStatusTransitions"]
    assert "from scratch" in restarts[0]["StatusMessage"]
    assert "from its checkpoint" in restarts[1]["StatusMessage"]
    assert described["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert max(epochs_run(lc, job)) == EPOCHS


def crash_mid_update_and_invoke(lc: LocalCloudProcess, endpoint: str, data: Path) -> None:
    """Updating: a new config for the deployed endpoint, killed mid-update; it ends InService."""
    sm = lc.client("sagemaker")
    config_name = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    sm.create_endpoint_config(
        EndpointConfigName="after-crash", ProductionVariants=config["ProductionVariants"]
    )
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName="after-crash")
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Updating"
    crash_and_restart(lc)
    updated = wait_for(
        lambda: sm.describe_endpoint(EndpointName=endpoint),
        "EndpointStatus",
        ("InService", "Failed"),
        300,
    )
    assert updated["EndpointStatus"] == "InService" and updated["EndpointConfigName"] == "after-crash"
    jpeg = next((data / "test").rglob("*.jpg")).read_bytes()
    answer = lc.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, Body=jpeg, ContentType="image/jpeg", Accept="application/json"
    )
    assert answer["Body"].read()


@pytest.mark.timeout(1800)
def test_pipeline_survives_a_lost_host_at_every_phase(tmp_path: Path) -> None:
    data = generate(
        tmp_path / "images",
        classes=2,
        train_per_class=8,
        valid_per_class=4,
        test_per_class=2,
        size=64,
        seed=3,
    )
    lc = LocalCloudProcess(tmp_path / "state", template=REPO / "template.yaml").start()
    redone: dict[str, int] = {}
    try:
        sfn, sm = lc.client("stepfunctions"), lc.client("sagemaker")
        execution = sfn.start_execution(
            stateMachineArn=state_machine(lc), name="lost-host", input=json.dumps(pipeline_input(data))
        )["executionArn"]

        tuning_job = until(
            lambda: [
                j["HyperParameterTuningJobName"]
                for j in sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
            ],
            "the tuning job",
        )[0]
        first = until(lambda: trials(lc, tuning_job), "the first trial")[0]
        lost = kill_in_training(lc, first, checkpointed=False)
        redone["trial before its first checkpoint"] = lost  # all of them: it starts from scratch
        lost_after = kill_in_training(lc, first, checkpointed=True) - lost

        retrain = until(
            lambda: [
                j["TrainingJobName"]
                for j in sm.list_training_jobs()["TrainingJobSummaries"]
                if j["TrainingJobName"] not in trials(lc, tuning_job)
            ],
            "the retrain job",
            timeout=900,
        )[0]
        retrain_lost = kill_in_training(lc, retrain, checkpointed=False)
        redone["retrain before its first checkpoint"] = retrain_lost
        retrain_lost_after = kill_in_training(lc, retrain, checkpointed=True) - retrain_lost

        endpoint = until(
            lambda: [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]], "the endpoint", timeout=900
        )[0]
        assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"
        crash_and_restart(lc)

        done = wait_execution(sfn, execution, timeout=900)
        assert done["status"] == "SUCCEEDED", f"{done.get('error')}: {done.get('cause')}\n{lc.server_log()}"
        assert json.loads(done["output"])["endpoint"]["status"] == "InService"

        assert_each_job_ran_once(lc, tuning_job, retrain, endpoint)
        for job in (first, retrain):
            assert_restarted_twice(lc, job)
        # finished epochs run again after resuming: those finished in the lost attempt past its checkpoint
        redone["trial after its first checkpoint"] = lost_after - resumed_at(lc, first)
        redone["retrain after its first checkpoint"] = retrain_lost_after - resumed_at(lc, retrain)

        crash_mid_update_and_invoke(lc, endpoint, data)
        assert check_bucket_objects(lc) > 0
        print(f"\nepochs redone per phase (of {EPOCHS} per job): {json.dumps(redone)}")
    finally:
        lc.stop()
    leftovers = [
        p for p in psutil.process_iter(["cmdline"]) if str(lc.state_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == [], [p.info["cmdline"] for p in leftovers]


def test_a_lambda_task_in_flight_is_invoked_again(tmp_path: Path) -> None:
    lc = LocalCloudProcess(tmp_path / "state", template=FIXTURE_TEMPLATE).start()
    try:
        sfn = lc.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="slow-task",
            roleArn=APP_ROLE,
            definition=json.dumps(
                {
                    "StartAt": "Sleep",
                    "States": {
                        "Sleep": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "OutputPath": "$.Payload",
                            "Parameters": {
                                "FunctionName": physical(lc, "SlowFunction"),
                                "Payload": {"seconds": 1.5},
                            },
                            "End": True,
                        }
                    },
                }
            ),
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]

        def started() -> bool:
            types = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
            return "TaskStarted" in types and "TaskSucceeded" not in types

        until(started, "the Lambda task running", timeout=60, interval=0.05)
        crash_and_restart(lc)
        done = wait_execution(lc.client("stepfunctions"), execution, timeout=120)
        assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == "woke up"
        types = [
            e["type"]
            for e in lc.client("stepfunctions").get_execution_history(executionArn=execution)["events"]
        ]
        assert types.count("TaskScheduled") == 2 and types.count("TaskSucceeded") == 1, types
    finally:
        lc.stop()


def test_retry_strategy_retries_lost_jobs_not_failing_scripts(tmp_path: Path) -> None:
    """From scratch up to MaximumRetryAttempts, then Failed; a script's exit 1 is final at once."""
    lc = LocalCloudProcess(tmp_path / "state").start()
    try:
        s3, sm = lc.client("s3"), lc.client("sagemaker")
        s3.create_bucket(Bucket="retries")
        s3.put_object(Bucket="retries", Key="data/train/x.txt", Body=b"x")
        s3.put_object(
            Bucket="retries", Key="code/mini.tar.gz", Body=tarball({"train.py": MINI_TRAIN.encode()})
        )
        plain = "import time\nfor i in range(600):\n    print(f'step {i}', flush=True)\n    time.sleep(0.1)\n"
        s3.put_object(Bucket="retries", Key="code/plain.tar.gz", Body=tarball({"train.py": plain.encode()}))

        def create(name: str, code: str, hyperparameters: dict[str, str]) -> None:
            sm.create_training_job(
                **training_request(
                    name,
                    code_uri=f"s3://retries/code/{code}.tar.gz",
                    data=channels("retries", "data/")[:1],
                    output="s3://retries/output/",
                    hyperparameters=hyperparameters,
                    RetryStrategy={"MaximumRetryAttempts": 1},
                )
            )

        create("lost", "plain", {})
        create("script-fails", "mini", {"epochs": "3", "sleep": "0.1", "fail": '"epoch2"'})
        failed = wait_for(lambda: training(lc, "script-fails"), "TrainingJobStatus", TERMINAL, timeout=120)
        assert failed["TrainingJobStatus"] == "Failed" and failed["FailureReason"].startswith(
            "AlgorithmError"
        )

        log = lambda: training_log(lc.state_dir, "lost")  # noqa: E731
        until(lambda: "step 2" in log(), "the job running")
        crash_and_restart(lc)  # retry 1 of 1: from scratch
        until(lambda: log().count("step 0") == 2 and log().count("step 2") == 2, "the retry running", 120)
        crash_and_restart(lc)  # no retry left
        lost = training(lc, "lost")
        assert lost["TrainingJobStatus"] == "Failed"
        assert lost["FailureReason"].startswith("InternalServerError"), lost["FailureReason"]
        statuses = [t["Status"] for t in lost["SecondaryStatusTransitions"]]
        assert statuses.count("Restarting") == 1 and statuses[-1] == "Failed", statuses
        restart = next(t for t in lost["SecondaryStatusTransitions"] if t["Status"] == "Restarting")
        assert "attempt 2 of 2, from scratch" in restart["StatusMessage"]
        assert training_log(lc.state_dir, "lost").count("step 0") == 2  # ran again from the start

        untouched = training(lc, "script-fails")
        assert "Restarting" not in [t["Status"] for t in untouched["SecondaryStatusTransitions"]]
        assert training_log(lc.state_dir, "script-fails").count("epoch=1 ") == 1
    finally:
        lc.stop()
