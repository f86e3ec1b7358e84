"""localcloud's query protocol is botocore's, inverted: what botocore's QuerySerializer sends decodes
back to the same parameters, and what localcloud answers parses (botocore's QueryParser) back to
the same result."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from localcloud.errors import AwsError
from localcloud.query import decode_params, parse_form, query_error, service_name, xml_response
from localcloud.validation import operation_model

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _sent(service: str, operation: str, params: dict[str, Any]) -> bytes:
    request = create_serializer("query").serialize_to_request(params, operation_model(service, operation))
    return urllib.parse.urlencode(request["body"]).encode()


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        (
            "cloudwatch",
            "GetMetricStatistics",
            {
                "Namespace": "/aws/sagemaker/TrainingJobs",
                "MetricName": "valid:accuracy",
                "Dimensions": [{"Name": "Host", "Value": "job/algo-1"}],
                "StartTime": T0,
                "EndTime": T0 + dt.timedelta(hours=1),
                "Period": 60,
                "Statistics": ["Average", "Maximum"],
            },
        ),
        (
            "sts",
            "AssumeRole",
            {
                "RoleArn": "arn:aws:iam::000000000000:role/r",
                "RoleSessionName": "s1",
                "DurationSeconds": 900,
                "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
                "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
            },
        ),
        (
            "iam",
            "SimulatePrincipalPolicy",
            {
                "PolicySourceArn": "arn:aws:iam::000000000000:role/r",
                "ActionNames": ["s3:GetObject"],
                "ContextEntries": [
                    {"ContextKeyName": "aws:x", "ContextKeyValues": ["1", "2"], "ContextKeyType": "string"}
                ],
            },
        ),
        ("cloudformation", "ListStacks", {"StackStatusFilter": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]}),
        ("cloudformation", "DescribeStacks", {}),
    ],
)
def test_what_botocore_sends_decodes_to_the_same_parameters(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    form = parse_form(_sent(service, operation, params))
    assert form["Action"] == operation
    assert decode_params(service, operation, form) == params


def test_an_empty_list_is_sent_and_decoded_as_empty() -> None:
    form = parse_form(_sent("cloudformation", "ListStacks", {"StackStatusFilter": []}))
    assert decode_params("cloudformation", "ListStacks", form) == {"StackStatusFilter": []}


def test_a_value_of_the_wrong_type_names_the_field() -> None:
    form = {"Action": "GetMetricStatistics", "Period": "sixty"}
    with pytest.raises(AwsError) as info:
        decode_params("cloudwatch", "GetMetricStatistics", form)
    assert "'Period'" in info.value.message and "integer" in info.value.message


def _parsed(service: str, operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    shape = operation_model(service, operation).output_shape
    response = {"body": body, "headers": {}, "status_code": status}
    parsed = create_parser("query").parse(response, shape)
    parsed.pop("ResponseMetadata", None)
    return dict(parsed)


@pytest.mark.parametrize(
    ("service", "operation", "result"),
    [
        (
            "cloudformation",
            "DescribeStacks",
            {
                "Stacks": [
                    {
                        "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/s/1",
                        "StackName": "s",
                        "CreationTime": T0,
                        "StackStatus": "CREATE_COMPLETE",
                        "DisableRollback": False,
                        "Outputs": [{"OutputKey": "A", "OutputValue": "a <&> b"}],
                        "Parameters": [],
                    }
                ]
            },
        ),
        (
            "cloudwatch",
            "GetMetricStatistics",
            {
                "Label": "m",
                "Datapoints": [
                    {"Timestamp": T0, "Average": 0.25, "SampleCount": 2.0, "ExtendedStatistics": {"p90": 0.5}}
                ],
            },
        ),
        (
            "sts",
            "GetCallerIdentity",
            {"UserId": "0", "Account": "000000000000", "Arn": "arn:aws:iam::0:root"},
        ),
    ],
)
def test_what_localcloud_answers_parses_back_to_the_result(
    service: str, operation: str, result: dict[str, Any]
) -> None:
    body = xml_response(service, operation, result).body
    assert _parsed(service, operation, bytes(body)) == result


def test_errors_parse_as_aws_error_responses() -> None:
    response = query_error(AwsError("ValidationError", "Stack with id x does not exist"), "cloudformation")
    parser = create_parser("query")
    parsed = parser.parse(
        {"body": bytes(response.body), "headers": {}, "status_code": response.status_code},
        operation_model("cloudformation", "DescribeStacks").output_shape,
    )
    assert response.status_code == 400
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "ValidationError",
        "Message": "Stack with id x does not exist",
    }


def test_the_service_comes_from_the_credential_scope_else_the_version() -> None:
    versions = {"2011-06-15": "sts", "2010-05-15": "cloudformation"}
    auth = (
        "AWS4-HMAC-SHA256 Credential=test/20260102/us-east-1/monitoring/aws4_request, "
        "SignedHeaders=host, Signature=abc"
    )
    assert service_name(auth, {"Version": "2011-06-15"}, versions) == "monitoring"
    assert service_name(None, {"Version": "2010-05-15"}, versions) == "cloudformation"
    assert service_name(None, {"Version": "1999-01-01"}, versions) is None
