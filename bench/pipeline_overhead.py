"""Local pipeline overhead: one full execution of the app's state machine under localcloud.

Prints the execution's wall time, the sum of its training jobs' wall times (every tuning trial
plus the profiled retrain, CreationTime -> TrainingEndTime) plus the endpoint start
(CreationTime -> InService), and their ratio. Everything else in the wall time is orchestration:
Step Functions, Lambda invocations, and Wait/poll latency (``pollSeconds``). Goal: <= 1.10.

Runs on the generated sample dataset with examples/local-input.json (trials run one at a time
there, so the sum of job times is comparable with wall time).

    .venv/bin/python bench/pipeline_overhead.py [--input examples/local-input.json]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from localcloud.clients import aws_client
from localcloud.config import Settings
from pipeline_demo.dataset import ensure_sample_data, upload_dataset
from pipeline_demo.demo import find_app, start_localcloud, stop_localcloud
from pipeline_demo.progress import Progress, follow

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seconds(start: Any, end: Any) -> float:
    return float(end.timestamp() - start.timestamp())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default=str(REPO / "examples" / "local-input.json"))
    args = parser.parse_args()
    console = Console(force_terminal=False)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        settings = Settings(
            state_dir=Path(tmp) / "state",
            port=free_port(),
            api_port=free_port(),
            template=REPO / "template.yaml",
        )
        data = ensure_sample_data(Path(tmp) / "data", 4, console)
        proc = start_localcloud(settings, console)
        try:
            state_machine_arn, bucket = find_app(settings)
            execution_input = json.loads(Path(args.input).read_text())
            execution_input["data"] = upload_dataset(
                aws_client(settings, "s3"), data, bucket, "bench", console
            )
            sfn = aws_client(settings, "stepfunctions")
            arn = sfn.start_execution(
                stateMachineArn=state_machine_arn, name="bench", input=json.dumps(execution_input)
            )["executionArn"]
            description = follow(Progress(settings, arn), console, poll_seconds=2.0)
            if description["status"] != "SUCCEEDED":
                raise SystemExit(f"execution {description['status']}: {description.get('cause')}")
            output = json.loads(description["output"])
            wall = seconds(description["startDate"], description["stopDate"])
            sm = aws_client(settings, "sagemaker")
            trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=output["tuningJob"], MaxResults=100
            )["TrainingJobSummaries"]
            jobs = [t["TrainingJobName"] for t in trials] + [output["retrainJob"]]
            job_times = {}
            for job in jobs:
                d = sm.describe_training_job(TrainingJobName=job)
                job_times[job] = seconds(d["CreationTime"], d["TrainingEndTime"])
            endpoint = sm.describe_endpoint(EndpointName=output["endpoint"]["name"])
            endpoint_start = seconds(endpoint["CreationTime"], endpoint["LastModifiedTime"])
        finally:
            stop_localcloud(proc)
    work = sum(job_times.values()) + endpoint_start
    for job, secs in job_times.items():
        print(f"  training job {job}: {secs:.1f} s")
    print(f"  endpoint start: {endpoint_start:.1f} s")
    print(f"execution wall time:             {wall:.1f} s")
    print(f"training jobs + endpoint start:  {work:.1f} s")
    print(f"overhead ratio (wall / work):    {wall / work:.3f}  (goal <= 1.10)")


if __name__ == "__main__":
    main()
