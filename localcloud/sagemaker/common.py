"""Shared pieces of the SageMaker emulation: resource kinds, ARNs, AWS error shapes, list paging
(the one NextToken scheme of SageMaker's List* operations: :func:`paginate` / :func:`list_page`).

Names of SageMaker resources are case-insensitive and their ARNs use the lower-cased name, so
documents are keyed by ``name.lower()`` while keeping the name as given.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..config import Settings
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


def arn(settings: Settings, kind: str, name: str) -> str:
    """The ARN of the ``kind`` resource named ``name`` (the lower-cased name, as AWS writes it)."""
    return settings.arn("sagemaker", f"{ARN_TYPES[kind]}/{name.lower()}")


_NOUNS = {MODEL: "model", ENDPOINT_CONFIG: "endpoint configuration", ENDPOINT: "endpoint"}


def could_not_find(settings: Settings, kind: str) -> Callable[[str], AwsError]:
    """Hosting's error for a missing model, endpoint config or endpoint (by name): 'Could not find ...'."""
    return lambda name: validation(f'Could not find {_NOUNS[kind]} "{arn(settings, kind, name)}".')


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def resource_in_use(message: str) -> AwsError:
    return AwsError("ResourceInUse", message)


def resource_not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message)


def limit_exceeded(message: str) -> AwsError:
    return AwsError("ResourceLimitExceeded", message)


def paginate(
    items: list[Doc],
    params: dict[str, Any],
    *,
    sort_fields: dict[str, Callable[[Doc], Any]],
    default_sort: str,
    default_order: str,
    default_max: int = 10,
) -> tuple[list[Doc], str | None]:
    """Sort, then page ``items`` as SageMaker's List* calls do (NextToken is an opaque offset).

    The one paging scheme of every SageMaker List* operation (see :func:`list_page`).
    """
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


def list_page(
    field: str,
    items: list[Doc],
    params: dict[str, Any],
    *,
    summary: Callable[[Doc], Doc] | None = None,
    sort_fields: dict[str, Callable[[Doc], Any]],
    default_sort: str,
    default_order: str,
) -> dict[str, Any]:
    """A List* answer: one page of ``items`` (each through ``summary``) under ``field``, NextToken."""
    page, token = paginate(
        items, params, sort_fields=sort_fields, default_sort=default_sort, default_order=default_order
    )
    out: dict[str, Any] = {field: [summary(d) for d in page] if summary else page}
    if token:
        out["NextToken"] = token
    return out


def by_fields(*names: str) -> dict[str, Callable[[Doc], Any]]:
    """Sort keys for List*'s SortBy: ``{"Name": <the first field>, "CreationTime": ..., ...}``."""
    sort_by = ("Name", "CreationTime", "Status")
    return {label: _getter(name) for label, name in zip(sort_by, names, strict=False)}


def _getter(name: str) -> Callable[[Doc], Any]:
    return lambda doc: doc[name]
