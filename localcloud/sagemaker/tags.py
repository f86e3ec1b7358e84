"""AddTags / ListTags / DeleteTags on the SageMaker resources localcloud keeps (by ARN)."""

from __future__ import annotations

from typing import Any

from ..store import Store
from . import common

_KINDS = {arn_type: kind for kind, arn_type in common.ARN_TYPES.items()}


class Tags:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _locate(self, arn: str) -> tuple[str, str]:
        resource = arn.split(":", 5)[-1]
        arn_type, _, name = resource.partition("/")
        kind = _KINDS.get(arn_type)
        if kind is None or self.store.get(kind, name) is None:
            raise common.resource_not_found(f"Resource {arn} not found.")
        return kind, name

    def add(self, params: dict[str, Any]) -> dict[str, Any]:
        kind, name = self._locate(params["ResourceArn"])

        def change(doc: dict[str, Any]) -> None:
            tags = {t["Key"]: t for t in doc.get("_tags") or []}
            tags.update({t["Key"]: t for t in params["Tags"]})
            doc["_tags"] = list(tags.values())

        doc = self.store.update(kind, name, change)
        return {"Tags": doc["_tags"]}

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        kind, name = self._locate(params["ResourceArn"])
        doc = self.store.get(kind, name) or {}
        return {"Tags": doc.get("_tags") or []}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        kind, name = self._locate(params["ResourceArn"])
        keys = set(params["TagKeys"])
        self.store.update(
            kind, name, lambda d: d.update(_tags=[t for t in d.get("_tags") or [] if t["Key"] not in keys])
        )
        return {}
