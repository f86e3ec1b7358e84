"""CloudFormation read operations over ``models.Stacks``, in CloudFormation's shapes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import AwsError
from .models import Stacks

Handler = Callable[[dict[str, Any]], dict[str, Any]]
NOT_CHECKED = {"StackDriftStatus": "NOT_CHECKED"}


def _resource_status(stack: dict[str, Any]) -> str:
    return "UPDATE_COMPLETE" if stack.get("StackStatus") == "UPDATE_COMPLETE" else "CREATE_COMPLETE"


class CloudFormationApi:
    def __init__(self, stacks: Stacks) -> None:
        self.stacks = stacks
        self.operations: dict[str, Handler] = {
            "DescribeStacks": self.describe_stacks,
            "ListStacks": self.list_stacks,
            "DescribeStackResources": self.describe_stack_resources,
            "DescribeStackResource": self.describe_stack_resource,
            "ListStackResources": self.list_stack_resources,
            "GetTemplate": self.get_template,
        }

    # ------------------------------------------------------------------ shapes
    @staticmethod
    def _stack(stack: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "StackId": stack["StackId"],
            "StackName": stack["StackName"],
            "Parameters": stack.get("Parameters") or [],
            "CreationTime": stack.get("CreationTime") or stack.get("LastUpdatedTime"),
            "StackStatus": stack["StackStatus"],
            "DisableRollback": False,
            "NotificationARNs": [],
            "Outputs": stack.get("Outputs") or [],
            "Tags": [],
            "EnableTerminationProtection": False,
            "DriftInformation": NOT_CHECKED,
        }
        if stack.get("Description"):
            out["Description"] = stack["Description"]
        if stack.get("StackStatus") == "UPDATE_COMPLETE":
            out["LastUpdatedTime"] = stack.get("LastUpdatedTime")
        return out

    def _resources(self, stack: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "StackName": stack["StackName"],
                "StackId": stack["StackId"],
                "LogicalResourceId": logical,
                "PhysicalResourceId": res["PhysicalResourceId"],
                "ResourceType": res["Type"],
                "Timestamp": stack.get("LastUpdatedTime"),
                "ResourceStatus": _resource_status(stack),
                "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
            }
            for logical, res in sorted((stack.get("Resources") or {}).items())
        ]

    # ------------------------------------------------------------------ operations
    def describe_stacks(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("StackName")
        stacks = [self.stacks.find(name)] if name else self.stacks.all()
        return {"Stacks": [self._stack(s) for s in stacks]}

    def list_stacks(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("StackStatusFilter") or [])
        summaries = []
        for stack in self.stacks.all():
            if wanted and stack["StackStatus"] not in wanted:
                continue
            full = self._stack(stack)
            summary: dict[str, Any] = {
                k: full[k]
                for k in ("StackId", "StackName", "CreationTime", "LastUpdatedTime", "StackStatus")
                if k in full
            }
            if stack.get("Description"):
                summary["TemplateDescription"] = stack["Description"]
            summary["DriftInformation"] = {"StackDriftStatus": "NOT_CHECKED"}
            summaries.append(summary)
        return {"StackSummaries": summaries}

    def describe_stack_resources(self, params: dict[str, Any]) -> dict[str, Any]:
        name, physical = params.get("StackName"), params.get("PhysicalResourceId")
        if not name and not physical:
            raise AwsError("ValidationError", "Either StackName or PhysicalResourceId must be specified")
        if name:
            stacks = [self.stacks.find(name)]
        else:
            stacks = [
                s
                for s in self.stacks.all()
                if any(r["PhysicalResourceId"] == physical for r in (s.get("Resources") or {}).values())
            ]
            if not stacks:
                raise AwsError("ValidationError", f"Stack for {physical} does not exist")
        resources = [r for s in stacks for r in self._resources(s)]
        if physical:
            resources = [r for r in resources if r["PhysicalResourceId"] == physical]
        if params.get("LogicalResourceId"):
            resources = [r for r in resources if r["LogicalResourceId"] == params["LogicalResourceId"]]
        return {"StackResources": resources}

    def describe_stack_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.stacks.find(params["StackName"])
        for res in self._resources(stack):
            if res["LogicalResourceId"] == params["LogicalResourceId"]:
                detail = {k: v for k, v in res.items() if k != "Timestamp"}
                detail["LastUpdatedTimestamp"] = res["Timestamp"]
                return {"StackResourceDetail": detail}
        raise AwsError(
            "ValidationError",
            f"Resource {params['LogicalResourceId']} does not exist for stack {params['StackName']}",
        )

    def list_stack_resources(self, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.stacks.find(params["StackName"])
        summaries = []
        for res in self._resources(stack):
            summaries.append(
                {
                    "LogicalResourceId": res["LogicalResourceId"],
                    "PhysicalResourceId": res["PhysicalResourceId"],
                    "ResourceType": res["ResourceType"],
                    "LastUpdatedTimestamp": res["Timestamp"],
                    "ResourceStatus": res["ResourceStatus"],
                    "DriftInformation": res["DriftInformation"],
                }
            )
        return {"StackResourceSummaries": summaries}

    def get_template(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("ChangeSetName"):
            raise AwsError("ValidationError", "Change sets are not supported by localcloud")
        if not params.get("StackName"):
            raise AwsError("ValidationError", "StackName must be specified")
        stack = self.stacks.find(params["StackName"])
        try:
            body = Path(stack["TemplatePath"]).read_text()
        except OSError as exc:
            message = f"The stack's template {stack['TemplatePath']} cannot be read: {exc}"
            raise AwsError("ValidationError", message) from exc
        return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}
