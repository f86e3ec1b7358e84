"""Server-side validation enforces what botocore's client does not: patterns, lengths, enums, ranges."""

import pytest

from localcloud.errors import AwsError
from localcloud.validation import validate_input, validation_errors


def test_tuning_job_name_over_32_characters_is_rejected_like_aws() -> None:
    errors = validation_errors(
        "sagemaker", "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": "a" * 40}
    )
    assert any(
        "length less than or equal to 32" in e and "'hyperParameterTuningJobName'" in e for e in errors
    )


def test_pattern_enum_and_range_constraints() -> None:
    params = {
        "TrainingJobName": "bad_name!",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "img"},
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
        "ResourceConfig": {"InstanceType": "ml.banana.large", "InstanceCount": 0, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 100},
    }
    errors = validation_errors("sagemaker", "CreateTrainingJob", params)
    text = "\n".join(errors)
    assert (
        "'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern"
        in text
    )
    assert (
        "'resourceConfig.instanceType' failed to satisfy constraint: Member must satisfy enum value set"
        in text
    )
    assert len(errors) == 2


def test_unknown_and_missing_members_are_named() -> None:
    errors = validation_errors("sagemaker", "CreateEndpoint", {"EndpointName": "x", "Bogus": 1})
    assert "Unknown parameter 'Bogus' at 'request'" in errors
    assert any(
        "'endpointConfigName' failed to satisfy constraint: Member must not be null" in e for e in errors
    )


def test_valid_request_passes_and_invalid_raises_aws_shape() -> None:
    validate_input("stepfunctions", "ListStateMachines", {"maxResults": 10})
    with pytest.raises(AwsError) as info:
        validate_input("stepfunctions", "ListStateMachines", {"maxResults": 100000})
    assert info.value.code == "ValidationException"
    assert info.value.message.startswith("1 validation error detected: Value '100000' at 'maxResults'")


def test_unknown_operation_is_reported() -> None:
    with pytest.raises(AwsError) as info:
        validate_input("sagemaker", "LaunchRocket", {})
    assert info.value.code == "UnknownOperationException"
