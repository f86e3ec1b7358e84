"""SageMaker's stored records across the typed-records rewrite (issue 13): a state.db written by the
previous code (dict documents with ``_private`` keys) still opens, and every Describe*/List* answer
for it is byte-for-byte what the previous code answered.

``fixtures/sagemaker_state_v1.json`` holds the SageMaker rows of three real state.db files written
by localcloud before the rewrite (a pipeline run with a lost host, the SDK request suite, a
kill-and-restart run). ``fixtures/sagemaker_responses_v1.json`` holds, for each call in ``CALLS``,
``json.dumps`` of the answer the previous code (commit 13946b6) gave for that state.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud
from localcloud.config import Settings
from localcloud.sagemaker.records import Endpoint, EndpointConfig, Model, Record, TrainingJob, TuningJob
from localcloud.store import Doc, Store

FIXTURES = Path(__file__).parent / "fixtures"
STATE = json.loads((FIXTURES / "sagemaker_state_v1.json").read_text())
GOLDEN_FILE = FIXTURES / "sagemaker_responses_v1.json"

_DESCRIBE = {
    "sagemaker/training-job": ("DescribeTrainingJob", "TrainingJobName"),
    "sagemaker/tuning-job": ("DescribeHyperParameterTuningJob", "HyperParameterTuningJobName"),
    "sagemaker/model": ("DescribeModel", "ModelName"),
    "sagemaker/endpoint-config": ("DescribeEndpointConfig", "EndpointConfigName"),
    "sagemaker/endpoint": ("DescribeEndpoint", "EndpointName"),
}
_ARN = {
    "sagemaker/training-job": "TrainingJobArn",
    "sagemaker/tuning-job": "HyperParameterTuningJobArn",
    "sagemaker/model": "ModelArn",
    "sagemaker/endpoint-config": "EndpointConfigArn",
    "sagemaker/endpoint": "EndpointArn",
}


def _calls() -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    for row in STATE:
        operation, field = _DESCRIBE[row["kind"]]
        name = row["doc"][field]
        calls.append((operation, {field: name}))
        calls.append(("ListTags", {"ResourceArn": row["doc"][_ARN[row["kind"]]]}))
        if row["kind"] == "sagemaker/tuning-job":
            for extra in ({}, {"SortBy": "FinalObjectiveMetricValue", "SortOrder": "Descending"}):
                calls.append(("ListTrainingJobsForHyperParameterTuningJob", {field: name, **extra}))
    for operation in (
        "ListTrainingJobs",
        "ListHyperParameterTuningJobs",
        "ListModels",
        "ListEndpointConfigs",
        "ListEndpoints",
    ):
        calls.append((operation, {}))
        calls.append((operation, {"SortBy": "Name", "SortOrder": "Descending"}))
        calls.append((operation, {"MaxResults": 2, "NameContains": "S"}))
    calls.append(("ListTrainingJobs", {"StatusEquals": "Completed", "SortBy": "Status"}))
    return calls


CALLS = _calls()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state = tmp_path_factory.mktemp("v1") / "state"
    store = Store(state / "state.db")  # the rows exactly as the previous code stored them
    for row in STATE:
        store.put(row["kind"], row["name"], row["doc"])
    store.close()
    cloud = LocalCloud(Settings(state_dir=state))
    yield cloud
    cloud.store.close()


def _answer(cloud: LocalCloud, operation: str, params: dict[str, Any]) -> str:
    result = cloud.sagemaker.dispatch(operation, params)
    pages = [json.dumps(result)]
    while result.get("NextToken"):  # follow the pages: the token scheme must not change either
        result = cloud.sagemaker.dispatch(operation, {**params, "NextToken": result["NextToken"]})
        pages.append(json.dumps(result))
    return "\n".join(pages)


def test_a_state_db_from_before_answers_byte_for_byte_as_before(cloud: LocalCloud) -> None:
    golden = json.loads(GOLDEN_FILE.read_text())
    assert len(golden) == len(CALLS)
    for (operation, params), expected in zip(CALLS, golden, strict=True):
        assert _answer(cloud, operation, params) == expected, (operation, params)


_RECORD_TYPES: dict[str, type[Record]] = {
    "sagemaker/training-job": TrainingJob,
    "sagemaker/tuning-job": TuningJob,
    "sagemaker/model": Model,
    "sagemaker/endpoint-config": EndpointConfig,
    "sagemaker/endpoint": Endpoint,
}


def _without_none_in_trials(doc: Doc) -> Doc:
    """Trials stored a stop reason of None explicitly; a record leaves a None field out."""
    if "_trials" not in doc:
        return doc
    trials = [{k: v for k, v in t.items() if v is not None} for t in doc["_trials"]]
    return {**doc, "_trials": trials}


@pytest.mark.parametrize("row", STATE, ids=[f"{r['kind']}:{r['name']}" for r in STATE])
def test_a_stored_document_reads_into_a_record_and_writes_back_the_same(row: dict[str, Any]) -> None:
    record = _RECORD_TYPES[row["kind"]].from_doc(row["doc"])
    assert record.other == {}  # every private key of the earlier code is a typed attribute
    assert record.to_doc() == _without_none_in_trials(row["doc"])


def test_private_keys_a_version_does_not_know_are_kept() -> None:
    doc = {"TrainingJobName": "x", "_tags": [], "_dir": "/d", "_from_a_later_version": {"a": 1}}
    record = TrainingJob.from_doc(doc)
    assert record.to_doc() == doc


if __name__ == "__main__":  # regenerate the golden answers (only ever from the pre-rewrite code)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "state.db")
        for row in STATE:
            store.put(row["kind"], row["name"], row["doc"])
        store.close()
        lc = LocalCloud(Settings(state_dir=Path(tmp)))
        GOLDEN_FILE.write_text(json.dumps([_answer(lc, op, p) for op, p in CALLS], indent=1) + "\n")
        lc.store.close()
