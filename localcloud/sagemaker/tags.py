"""AddTags / ListTags / DeleteTags on the SageMaker resources localcloud keeps (by ARN): each
record's ``tags`` (records.py)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from . import common
from .records import Record, Records, Tag


class Tags:
    def __init__(self, kinds: Mapping[str, Records[Any]]) -> None:
        """``kinds``: the records of each taggable kind (common.TRAINING_JOB ...)."""
        self._by_arn_type = {common.ARN_TYPES[kind]: records for kind, records in kinds.items()}

    def _locate(self, arn: str) -> tuple[Records[Any], str]:
        resource = arn.split(":", 5)[-1]
        arn_type, _, name = resource.partition("/")
        records = self._by_arn_type.get(arn_type)
        if records is None or name != name.lower() or records.get(name) is None:  # ARNs: lower-case
            raise common.resource_not_found(f"Resource {arn} not found.")
        return records, name

    def add(self, arn: str, tags: list[Tag]) -> list[Tag]:
        records, name = self._locate(arn)

        def change(record: Record) -> None:
            merged = {t["Key"]: t for t in record.tags}
            merged.update({t["Key"]: t for t in tags})
            record.tags = list(merged.values())

        return list(records.update(name, change).tags)

    def list(self, arn: str) -> list[Tag]:
        records, name = self._locate(arn)
        record = records.get(name)
        return list(record.tags) if record is not None else []

    def delete(self, arn: str, keys: builtins.list[str]) -> None:
        records, name = self._locate(arn)
        drop = set(keys)

        def change(record: Record) -> None:
            record.tags = [t for t in record.tags if t["Key"] not in drop]

        records.update(name, change)
