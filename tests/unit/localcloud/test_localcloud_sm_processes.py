"""GPUs per SageMaker instance type (processes.instance_gpus), as AWS's instance specs list them:
the table jobs and model servers are given GPUs by."""

from __future__ import annotations

import pytest

from localcloud.sagemaker.processes import instance_gpus

CASES = {
    "ml.p2.xlarge": 1,
    "ml.p2.16xlarge": 16,
    "ml.p3.2xlarge": 1,
    "ml.p3.8xlarge": 4,
    "ml.p3dn.24xlarge": 8,
    "ml.p4d.24xlarge": 8,
    "ml.p5.48xlarge": 8,
    "ml.p6-b200.48xlarge": 8,
    "ml.g4dn.xlarge": 1,
    "ml.g4dn.16xlarge": 1,
    "ml.g4dn.12xlarge": 4,
    "ml.g5.2xlarge": 1,
    "ml.g5.12xlarge": 4,
    "ml.g5.48xlarge": 8,
    "ml.g6.24xlarge": 4,
    "ml.g6e.48xlarge": 8,
    "ml.m5.large": 0,
    "ml.c5.18xlarge": 0,
    "ml.g4dn.48xlarge": 0,  # no such size
    "local": 0,
}


@pytest.mark.parametrize(("instance_type", "gpus"), CASES.items())
def test_gpus_per_instance_type(instance_type: str, gpus: int) -> None:
    assert instance_gpus(instance_type) == gpus
