"""localcloud's CloudFormation, read-only (query protocol, ``Version=2010-05-15``): the stacks
``localcloud up`` deployed from the template (``models.py``), so ``aws cloudformation
describe-stacks`` reads the same outputs locally as on AWS.

DescribeStacks, ListStacks, DescribeStackResources, DescribeStackResource, ListStackResources and
GetTemplate; any other operation answers ``InvalidAction ... is not supported by localcloud``
(deploy with ``localcloud up --template``). Requests and responses are checked against botocore's
``cloudformation`` model.
"""

from __future__ import annotations

from ..service import TableService
from ..store import Store
from .models import Stacks
from .responses import CloudFormationApi

__all__ = ["CloudFormationService"]


class CloudFormationService(TableService):
    model_name = "cloudformation"
    display_name = "CloudFormation"
    scope = "stacks are deployed by `localcloud up --template`"
    query_service: str | None = "cloudformation"

    def __init__(self, *, store: Store) -> None:
        self.stacks = Stacks(store)  # IAM's roles and CloudWatch Logs' declared groups read these
        self.api = CloudFormationApi(self.stacks)
