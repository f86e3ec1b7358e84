"""Shared pieces of the SageMaker emulation: resource kinds, ARNs, AWS error shapes, list paging.

Names of SageMaker resources are case-insensitive and their ARNs use the lower-cased name, so
documents are keyed by ``name.lower()`` while keeping the name as given.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import AwsError
from ..store import Doc

TRAINING_JOB = "sagemaker/training-job"
TUNING_JOB = "sagemaker/tuning-job"
MODEL = "sagemaker/model"
ENDPOINT_CONFIG = "sagemaker/endpoint-config"
ENDPOINT = "sagemaker/endpoint"

ARN_TYPES = {
    TRAINING_JOB: "training-job",
    TUNING_JOB: "hyper-parameter-tuning-job",
    MODEL: "model",
    ENDPOINT_CONFIG: "endpoint-config",
    ENDPOINT: "endpoint",
}


def now() -> float:
    return time.time()


def key(name: str) -> str:
    return name.lower()


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def resource_in_use(message: str) -> AwsError:
    return AwsError("ResourceInUse", message)


def resource_not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message)


def limit_exceeded(message: str) -> AwsError:
    return AwsError("ResourceLimitExceeded", message)


def public(doc: Doc) -> Doc:
    """A stored document without localcloud's private fields (those starting with ``_``)."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def paginate(
    items: list[Doc],
    params: dict[str, Any],
    *,
    sort_fields: dict[str, Callable[[Doc], Any]],
    default_sort: str,
    default_order: str,
    default_max: int = 10,
) -> tuple[list[Doc], str | None]:
    """Sort, then page ``items`` as SageMaker's List* calls do (NextToken is an opaque offset)."""
    sort_by = params.get("SortBy") or default_sort
    order = params.get("SortOrder") or default_order
    sort_key = sort_fields.get(sort_by)
    if sort_key is None:
        raise validation(f"SortBy {sort_by} is not supported by localcloud for this operation")
    ordered = sorted(items, key=sort_key, reverse=order == "Descending")
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(json.loads(base64.b64decode(token))["offset"])
        except (ValueError, KeyError, TypeError):
            raise validation("Invalid pagination token") from None
    size = int(params.get("MaxResults") or default_max)
    page = ordered[start : start + size]
    more = start + size < len(ordered)
    next_token = base64.b64encode(json.dumps({"offset": start + size}).encode()).decode() if more else None
    return page, next_token


def list_filters(
    items: Iterable[Doc],
    params: dict[str, Any],
    *,
    name_field: str,
    created: str = "CreationTime",
    modified: str = "LastModifiedTime",
) -> list[Doc]:
    """Apply the NameContains, CreationTimeAfter/Before and LastModifiedTimeAfter/Before filters."""
    out = []
    for doc in items:
        if params.get("CreationTimeAfter") is not None and doc[created] <= params["CreationTimeAfter"]:
            continue
        if params.get("CreationTimeBefore") is not None and doc[created] >= params["CreationTimeBefore"]:
            continue
        if (
            params.get("LastModifiedTimeAfter") is not None
            and doc[modified] <= params["LastModifiedTimeAfter"]
        ):
            continue
        if (
            params.get("LastModifiedTimeBefore") is not None
            and doc[modified] >= params["LastModifiedTimeBefore"]
        ):
            continue
        if params.get("NameContains") and params["NameContains"].lower() not in doc[name_field].lower():
            continue
        out.append(doc)
    return out
