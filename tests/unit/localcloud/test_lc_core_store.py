"""The SQLite store keeps documents and event logs across reopen (what restart-reconcile relies on)."""

import threading
from pathlib import Path

import pytest

from localcloud.store import Store


def test_documents_survive_reopen_and_list_by_prefix(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.put("sagemaker/training-job", "job-a", {"status": "InProgress"})
    store.put("sagemaker/training-job", "job-b", {"status": "Completed"})
    store.put("sagemaker/endpoint", "job-a", {"status": "InService"})
    store.close()

    reopened = Store(tmp_path / "state.db")
    assert reopened.get("sagemaker/training-job", "job-a") == {"status": "InProgress"}
    assert [d["status"] for d in reopened.list("sagemaker/training-job", "job-")] == [
        "InProgress",
        "Completed",
    ]
    assert reopened.list("sagemaker/training-job", "other") == []
    assert reopened.get("sagemaker/training-job", "missing") is None


def test_a_listing_can_leave_out_heavy_keys_and_the_stored_documents_keep_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    doc = {"TrainingJobName": "a", "_series": {"loss": [[1.0, 0.5]]}, "_dir": "/x", "nested": {"_series": 1}}
    store.put("sagemaker/training-job", "a", doc)
    listed = store.list("sagemaker/training-job", omit=["_series", "_absent"])
    assert listed == [{"TrainingJobName": "a", "_dir": "/x", "nested": {"_series": 1}}]  # top level only
    assert store.get("sagemaker/training-job", "a") == doc
    assert store.list("sagemaker/training-job") == [doc]
    store.close()


def test_create_is_atomic_and_refuses_a_taken_name(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(store.create("k", "same", {"i": i})))
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_update_is_read_modify_write_and_missing_raises(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.put("k", "n", {"count": 0})

    def bump() -> None:
        for _ in range(50):
            store.update("k", "n", lambda d: d.update(count=d["count"] + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("k", "n") == {"count": 200}
    with pytest.raises(KeyError):
        store.update("k", "absent", lambda d: None)


def test_event_log_is_ordered_and_deleted_with_its_document(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.put("states/execution", "e1", {})
    seqs = [store.append_event("states/execution", "e1", {"type": t}) for t in ("Started", "Entered", "Done")]
    assert seqs == [1, 2, 3]
    assert [e["type"] for e in store.events("states/execution", "e1", after=1)] == ["Entered", "Done"]
    assert store.delete("states/execution", "e1")
    assert store.events("states/execution", "e1") == []
    assert not store.delete("states/execution", "e1")
