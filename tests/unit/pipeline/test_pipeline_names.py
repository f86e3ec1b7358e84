"""Job names derived from the execution name: deterministic, unique, within SageMaker's limits."""

from __future__ import annotations

import pytest

from localcloud.validation import validation_errors
from pipeline.names import derive_name, job_names


@pytest.mark.parametrize(
    "execution",
    [
        "run-1",
        "3f2b8c1e-6d0a-4d5e-9a7b-0c1d2e3f4a5b",  # the console's default: a UUID
        "Nightly_Retrain_2026-01-01T00-00-00_with_a_very_long_descriptive_suffix_xyz",  # 80 chars
        "___",
        "UPPER_case__and--double",
    ],
)
def test_names_fit_sagemaker_limits_and_patterns(execution: str) -> None:
    names = job_names("dogs", execution)
    assert len(names.tuningJob) <= 32
    for name in (names.retrainJob, names.model, names.endpointConfig):
        assert len(name) <= 63
    for name in names.model_dump().values():
        assert name == name.lower() and name.startswith("dogs-")
    # botocore's patterns and lengths, as SageMaker's servers apply them
    assert (
        validation_errors(
            "sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": names.tuningJob}
        )
        == []
    )
    assert validation_errors("sagemaker", "DescribeTrainingJob", {"TrainingJobName": names.retrainJob}) == []
    assert validation_errors("sagemaker", "DescribeModel", {"ModelName": names.model}) == []
    assert (
        validation_errors("sagemaker", "DescribeEndpointConfig", {"EndpointConfigName": names.endpointConfig})
        == []
    )


def test_same_execution_same_names_and_different_executions_differ() -> None:
    long_a = "x" * 40 + "-a"
    long_b = "x" * 40 + "-b"
    assert job_names("dogs", long_a) == job_names("dogs", long_a)
    assert job_names("dogs", long_a).tuningJob != job_names("dogs", long_b).tuningJob
    assert len({*job_names("dogs", "run-1").model_dump().values()}) == 4


def test_short_names_are_readable_and_long_ones_carry_a_hash() -> None:
    assert job_names("dogs", "run-1").tuningJob == "dogs-run-1"
    assert job_names("dogs", "run-1").retrainJob == "dogs-run-1-retrain"
    long = job_names("dogs", "3f2b8c1e-6d0a-4d5e-9a7b-0c1d2e3f4a5b").tuningJob
    assert len(long) == 32 and long.startswith("dogs-3f2b8c1e-6d0a")


def test_prefix_that_leaves_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        derive_name("a" * 30, "x" * 40, "", 32)
