"""localcloud's CloudFormation, read-only (query protocol, ``Version=2010-05-15``): the stacks
``localcloud up`` deployed from the template (``models.py``), so ``aws cloudformation
describe-stacks`` reads the same outputs locally as on AWS.

DescribeStacks, ListStacks, DescribeStackResources, DescribeStackResource, ListStackResources and
GetTemplate; any other operation answers ``InvalidAction ... is not supported by localcloud``
(deploy with ``localcloud up --template``). Requests and responses are checked against botocore's
``cloudformation`` model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AwsError
from ..service import BaseService
from ..validation import validate_input, validate_output
from .models import Stacks
from .responses import CloudFormationApi

if TYPE_CHECKING:
    from ..cloud import LocalCloud

__all__ = ["CloudFormationService"]


class CloudFormationService(BaseService):
    query_service: str | None = "cloudformation"

    def __init__(self, cloud: LocalCloud) -> None:
        super().__init__(cloud)
        self.api = CloudFormationApi(Stacks(cloud.store))

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.api.operations.get(operation)
        if handler is None:
            raise AwsError(
                "InvalidAction",
                f"CloudFormation {operation} is not supported by localcloud (stacks are deployed by "
                f"`localcloud up --template`; supported: {', '.join(sorted(self.api.operations))})",
            )
        validate_input("cloudformation", operation, params)
        result = handler(params)
        validate_output("cloudformation", operation, result)
        return result
