"""The stacks localcloud deployed: the records the template deployer keeps (store kind
``cloudformation/stack``: name, ID, status, parameters, outputs, resources, template path)."""

from __future__ import annotations

from typing import Any

from ..errors import AwsError
from ..store import Store
from ..template import STACK_KIND


class Stacks:
    def __init__(self, store: Store) -> None:
        self.store = store

    def all(self) -> list[dict[str, Any]]:
        return sorted(self.store.list(STACK_KIND), key=lambda s: s.get("CreationTime") or 0)

    def find(self, name_or_id: str) -> dict[str, Any]:
        """A stack by name or stack ID (ARN); CloudFormation's ValidationError when there is none."""
        for stack in self.all():
            if name_or_id in (stack["StackName"], stack.get("StackId")):
                return stack
        raise AwsError("ValidationError", f"Stack with id {name_or_id} does not exist")
