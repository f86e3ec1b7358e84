"""Deterministic SageMaker resource names derived from the Step Functions execution name.

A step that is retried (or re-run by hand) derives the same names again, so a create call that
finds its resource already there knows it made it itself. SageMaker's limits are respected:
tuning jobs at most 32 characters, training jobs, models and endpoint configs at most 63, all
matching ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``. Names are lower-case because SageMaker lower-cases
names inside ARNs, and the IAM policies in template.yaml match ARNs by the prefix. When a name
would be too long, the execution part is cut and a short hash of the full execution name keeps
it unique. Hand-written: it is a few lines of string handling no library provides.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, ConfigDict

TUNING_JOB_MAX = 32
RESOURCE_MAX = 63
_HASH_LEN = 8
_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")


class JobNames(BaseModel):
    """Every resource name one execution creates."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    tuningJob: str
    retrainJob: str
    model: str
    endpointConfig: str


def _slug(text: str) -> str:
    """Lower-case, only [a-z0-9-], no leading/trailing or doubled hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower())
    return slug.strip("-")


def derive_name(prefix: str, execution_name: str, suffix: str, max_len: int) -> str:
    """``<prefix>-<execution>[-<suffix>]``, shortened with a hash when longer than ``max_len``."""
    base = _slug(prefix)
    middle = _slug(execution_name) or "run"
    tail = f"-{_slug(suffix)}" if suffix else ""
    name = f"{base}-{middle}{tail}"
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(execution_name.encode()).hexdigest()[:_HASH_LEN]
    room = max_len - len(base) - len(tail) - len(digest) - 2
    if room < 1:
        raise ValueError(f"name prefix {prefix!r} leaves no room in a {max_len}-character name")
    cut = middle[:room].strip("-") or "x"
    name = f"{base}-{cut}-{digest}{tail}"
    if len(name) > max_len or not _NAME_RE.fullmatch(name):  # cannot happen: guards future edits
        raise ValueError(f"derived name {name!r} breaks SageMaker's naming rules")
    return name


def job_names(prefix: str, execution_name: str) -> JobNames:
    """The names of everything the execution ``execution_name`` creates."""
    return JobNames(
        tuningJob=derive_name(prefix, execution_name, "", TUNING_JOB_MAX),
        retrainJob=derive_name(prefix, execution_name, "retrain", RESOURCE_MAX),
        model=derive_name(prefix, execution_name, "model", RESOURCE_MAX),
        endpointConfig=derive_name(prefix, execution_name, "config", RESOURCE_MAX),
    )
