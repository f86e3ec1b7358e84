"""AWS clients and the handful of SageMaker call patterns the functions share.

* the clients are botocore's, made from one botocore session per container: the same client
  objects ``boto3.client`` returns, without importing boto3, whose resource layer and s3transfer
  (nothing here uses them) cost a third of a cold start's imports. The session's loader also
  serves the SageMaker service model to execution_input.py's enum checks, so it is parsed once;
* that loader is botocore's ``Loader`` reading ``botocore_data/`` only: botocore's own data cut
  down to the operations the functions call (scripts/botocore_data.py writes it from the
  locked botocore; a test keeps it equal). Parsing SageMaker's whole model, every service's
  endpoints and listing botocore's ~440 service folders would be most of a cold start. Its
  files are parsed into plain dicts (``DictJSONFileLoader``), not botocore's OrderedDicts;
* clients are made once per container (on first use, then cached; ``OnFirstUse`` defers even
  that for a client a call may not need) with botocore's standard retry mode; throttling that
  outlasts it becomes ``SageMakerThrottled``, which the state machine retries with backoff;
* ``create_once`` makes a create call idempotent: a resource that already exists under the
  execution-derived name was made by an earlier attempt of the same step, so it counts as done;
* ``stop_if_running`` and ``first_failed_trial`` serve Cleanup and the error messages.

No endpoint URL is set here: botocore honours ``AWS_ENDPOINT_URL`` by itself, which is how the
same code talks to localcloud. Relies on botocore.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.loaders import Loader

from .errors import SageMakerThrottled

DATA_DIR = Path(__file__).with_name("botocore_data")
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=60)
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)


@functools.cache
def botocore_session() -> botocore.session.Session:
    """The container's one session (credentials, region and endpoint from the environment)."""
    return new_session()


def new_session() -> botocore.session.Session:
    """A botocore session whose service models and endpoints come from ``botocore_data/`` alone."""
    session = botocore.session.get_session()
    session.register_component("data_loader", data_loader())
    return session


def data_loader() -> Loader:
    """botocore's Loader on the functions' own data, without botocore's (see the module docstring)."""
    return Loader(
        extra_search_paths=[str(DATA_DIR)],
        file_loader=DictJSONFileLoader(),
        include_default_search_paths=False,
    )


class DictJSONFileLoader:
    """The ``file_loader`` botocore's Loader takes (its ``exists`` / ``load_file``), reading the
    plain ``.json`` files of ``botocore_data/`` into plain dicts. botocore's own JSONFileLoader
    builds every JSON object as an OrderedDict (``object_pairs_hook``), which parses ~3x slower
    (~10 ms of a step's cold start for the SageMaker and S3 models and S3's endpoint rule set);
    dicts keep the files' key order, and botocore reads the data as mappings only."""

    def exists(self, file_path: str) -> bool:
        return Path(file_path + ".json").is_file()

    def load_file(self, file_path: str) -> Any:
        """The parsed ``<file_path>.json``, or None when there is no such file (as botocore's)."""
        try:
            return json.loads(Path(file_path + ".json").read_bytes())
        except FileNotFoundError:
            return None


@functools.cache
def sagemaker_client() -> Any:
    return botocore_session().create_client("sagemaker", config=_CONFIG)


@functools.cache
def s3_client() -> Any:
    return botocore_session().create_client("s3", config=_CONFIG)


@functools.cache
def runtime_client() -> Any:
    return botocore_session().create_client("sagemaker-runtime", config=_CONFIG)


class OnFirstUse:
    """A client made when first used: a call that may not need it (CheckStatus on a tuning job
    reads no S3) does not pay for making it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory

    def __getattr__(self, name: str) -> Any:
        return getattr(self._factory(), name)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def is_already_exists(exc: ClientError) -> bool:
    """SageMaker's two ways of saying "that name is taken"."""
    code, message = error_code(exc), error_message(exc).lower()
    return code == "ResourceInUse" or (code == "ValidationException" and "already exist" in message)


def is_not_found(exc: ClientError) -> bool:
    """SageMaker answers unknown names with ResourceNotFound or a ValidationException."""
    code, message = error_code(exc), error_message(exc).lower()
    if code == "ResourceNotFound":
        return True
    return code == "ValidationException" and any(
        phrase in message for phrase in ("not found", "could not find", "does not exist")
    )


def describe_endpoint_or_none(sagemaker: Any, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when no endpoint has that name."""
    try:
        return dict(sagemaker.describe_endpoint(EndpointName=name))
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise


@contextlib.contextmanager
def throttling_as_retryable() -> Iterator[None]:
    """Turn throttling errors (after botocore's own retries) into ``SageMakerThrottled``."""
    try:
        yield
    except ClientError as exc:
        if error_code(exc) in THROTTLING_CODES:
            raise SageMakerThrottled(f"SageMaker throttled the request: {error_message(exc)}") from exc
        raise


def create_once(create: Callable[..., dict[str, Any]], request: Mapping[str, Any]) -> bool:
    """Call ``create(**request)``; False (and no error) when the resource already exists."""
    try:
        create(**request)
    except ClientError as exc:
        if is_already_exists(exc):
            return False
        raise
    return True


def stop_if_running(
    describe: Callable[..., dict[str, Any]],
    stop: Callable[..., Any],
    name_key: str,
    status_key: str,
    name: str,
) -> bool:
    """Stop the job ``name`` when it is in progress; True when a stop was requested."""
    try:
        status = describe(**{name_key: name})[status_key]
    except ClientError as exc:
        if is_not_found(exc):
            return False
        raise
    if status != "InProgress":
        return False
    try:
        stop(**{name_key: name})
    except ClientError as exc:  # it finished between the two calls
        if error_code(exc) == "ValidationException":
            return False
        raise
    return True


def first_failed_trial(sagemaker: Any, tuning_job: str) -> str | None:
    """``"<job>: <FailureReason>"`` of one failed training job of a tuning job, if any."""
    try:
        listing = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_job, StatusEquals="Failed", MaxResults=1
        )
    except ClientError:
        return None
    for summary in listing.get("TrainingJobSummaries", []):
        reason = summary.get("FailureReason") or "no reason given"
        return f"{summary['TrainingJobName']}: {reason}"
    return None
