"""AddTags / ListTags / DeleteTags on SageMaker resources, through the service's dispatch (no
processes: a model is a record only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud
from localcloud.config import Settings
from localcloud.errors import AwsError

ROLE = "arn:aws:iam::000000000000:role/sm"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    cloud = LocalCloud(Settings(state_dir=tmp_path / "state"))
    yield cloud
    cloud.store.close()


def test_tags_are_added_merged_by_key_listed_and_deleted(cloud: LocalCloud) -> None:
    sm = cloud.sagemaker
    arn = sm.dispatch(
        "CreateModel",
        {
            "ModelName": "Tagged",
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": "x"},
            "Tags": [{"Key": "team", "Value": "a"}],
        },
    )["ModelArn"]
    assert arn.endswith(":model/tagged")
    tags = [{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}]
    added = sm.dispatch("AddTags", {"ResourceArn": arn, "Tags": tags})
    assert added == {"Tags": [{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}]}
    assert sm.dispatch("ListTags", {"ResourceArn": arn})["Tags"] == added["Tags"]
    assert sm.dispatch("DeleteTags", {"ResourceArn": arn, "TagKeys": ["team"]}) == {}
    assert sm.dispatch("ListTags", {"ResourceArn": arn}) == {"Tags": [{"Key": "env", "Value": "dev"}]}
    assert "Tags" not in sm.dispatch("DescribeModel", {"ModelName": "tagged"})


def test_tags_of_a_resource_that_does_not_exist(cloud: LocalCloud) -> None:
    missing = "arn:aws:sagemaker:us-east-1:000000000000:model/none"
    with pytest.raises(AwsError) as caught:
        cloud.sagemaker.dispatch("ListTags", {"ResourceArn": missing})
    assert caught.value.code == "ResourceNotFound"
    assert missing in caught.value.message
