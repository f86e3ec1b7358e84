"""The model server's batching settings (the toolkit's variables) and its batcher's batch forming."""

from __future__ import annotations

import threading
import time

import pytest

from localcloud.sagemaker.batching import Batcher, BatchSettings, SettingsError


def test_unset_variables_mean_the_toolkit_and_torchserve_defaults() -> None:
    # No variable at all: TorchServe's default workers, one per vCPU (or per GPU given to the server).
    assert BatchSettings.from_env({}, cores=2) == BatchSettings(batch_size=1, max_delay_ms=100, workers=2)
    assert BatchSettings.from_env({}, cores=8).workers == 8
    assert BatchSettings.from_env({"CUDA_VISIBLE_DEVICES": "0"}, cores=8).workers == 1
    assert BatchSettings.from_env({"CUDA_VISIBLE_DEVICES": "1,3"}, cores=8).workers == 2
    assert BatchSettings.from_env({"CUDA_VISIBLE_DEVICES": ""}, cores=4).workers == 4


def test_workers_follow_the_toolkit_rules() -> None:
    # Without SAGEMAKER_TS_* the toolkit hands SAGEMAKER_MODEL_SERVER_WORKERS to TorchServe ...
    assert BatchSettings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "3"}, cores=2).workers == 3
    # ... with any of them set, the model's own min workers (default 1) win.
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "3", "SAGEMAKER_TS_BATCH_SIZE": "8"}
    assert BatchSettings.from_env(env, cores=2) == BatchSettings(batch_size=8, max_delay_ms=100, workers=1)
    assert BatchSettings.from_env({"SAGEMAKER_TS_BATCH_SIZE": "8"}, cores=8).workers == 1
    env |= {
        "SAGEMAKER_TS_MIN_WORKERS": "2",
        "SAGEMAKER_TS_MAX_WORKERS": "2",
        "SAGEMAKER_TS_MAX_BATCH_DELAY": "0",
    }
    assert BatchSettings.from_env(env, cores=2) == BatchSettings(batch_size=8, max_delay_ms=0, workers=2)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SAGEMAKER_TS_BATCH_SIZE": "eight"},
            "SAGEMAKER_TS_BATCH_SIZE must be a whole number from 1 to 256, got 'eight'",
        ),
        (
            {"SAGEMAKER_TS_BATCH_SIZE": "0"},
            "SAGEMAKER_TS_BATCH_SIZE must be a whole number from 1 to 256, got '0'",
        ),
        (
            {"SAGEMAKER_TS_MAX_BATCH_DELAY": "-5"},
            "SAGEMAKER_TS_MAX_BATCH_DELAY must be a whole number from 0 to 60000",
        ),
        ({"SAGEMAKER_TS_MAX_BATCH_DELAY": "2.5"}, "SAGEMAKER_TS_MAX_BATCH_DELAY must be a whole number"),
        ({"SAGEMAKER_MODEL_SERVER_WORKERS": "many"}, "SAGEMAKER_MODEL_SERVER_WORKERS must be a whole number"),
        (
            {"SAGEMAKER_TS_MIN_WORKERS": "4", "SAGEMAKER_TS_MAX_WORKERS": "2"},
            "SAGEMAKER_TS_MAX_WORKERS (2) must not be smaller than SAGEMAKER_TS_MIN_WORKERS (4)",
        ),
    ],
)
def test_a_bad_value_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        BatchSettings.from_env(env)
    assert message in str(raised.value)


def test_threads_per_worker_never_oversubscribe_the_cores() -> None:
    assert BatchSettings(workers=1).threads_per_worker(2) == 2
    assert BatchSettings(workers=2).threads_per_worker(2) == 1
    assert BatchSettings(workers=3).threads_per_worker(8) == 2
    assert BatchSettings(workers=4).threads_per_worker(2) == 1


def _running(batcher: Batcher[int, int]) -> threading.Thread:
    thread = threading.Thread(target=batcher.run_forever, daemon=True)
    thread.start()
    return thread


def _queued(batcher: Batcher[int, int], count: int) -> None:
    deadline = time.monotonic() + 30
    while batcher.stats()["queued"] != count:
        assert time.monotonic() < deadline, batcher.stats()
        time.sleep(0.005)


def test_concurrent_items_share_a_batch_and_each_gets_its_own_result() -> None:
    seen: list[list[int]] = []
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        started.set()
        release.wait(30)  # the first batch holds the batching thread while the others queue
        seen.append(items)
        return [item * 10 for item in items]

    batcher: Batcher[int, int] = Batcher(run, BatchSettings(batch_size=3, max_delay_ms=1500))
    thread = _running(batcher)
    results: dict[int, int] = {}
    workers = [threading.Thread(target=lambda i=i: results.update({i: batcher.submit(i)})) for i in range(4)]
    workers[0].start()
    assert started.wait(30)
    for worker in workers[1:]:
        worker.start()
    _queued(batcher, 3)
    release.set()
    for worker in workers:
        worker.join(timeout=30)
    assert results == {0: 0, 1: 10, 2: 20, 3: 30}
    assert [sorted(batch) for batch in seen] == [[0], [1, 2, 3]]
    # Alone afterwards: it waits for the other three at most the delay, then runs as a batch of one.
    assert batcher.submit(7) == 70
    assert batcher.stats()["batchSizes"] == {"1": 2, "3": 1}
    batcher.stop()
    thread.join(timeout=30)


def test_a_failing_batch_fails_each_of_its_requests() -> None:
    def run(items: list[int]) -> list[int]:
        raise ValueError("model broke")

    batcher: Batcher[int, int] = Batcher(run, BatchSettings(batch_size=1, max_delay_ms=0))
    thread = _running(batcher)
    with pytest.raises(ValueError, match="model broke"):
        batcher.submit(1)
    batcher.stop()
    thread.join(timeout=30)


def test_a_batch_handler_returning_the_wrong_count_is_an_error_not_a_mixup() -> None:
    started, release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        started.set()
        release.wait(30)  # the first (lone) batch holds the thread while two more queue
        return [1]

    batcher: Batcher[int, int] = Batcher(run, BatchSettings(batch_size=2, max_delay_ms=10_000))
    thread = _running(batcher)
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            batcher.submit(i)
        except RuntimeError as exc:
            errors.append(exc)

    workers = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    workers[0].start()
    assert started.wait(30)
    for worker in workers[1:]:
        worker.start()
    _queued(batcher, 2)
    release.set()
    for worker in workers:
        worker.join(timeout=30)
    assert [str(e) for e in errors] == ["the batch handler returned 1 results for 2 inputs"] * 2
    batcher.stop()
    thread.join(timeout=30)


def test_a_lone_request_is_answered_at_once_not_after_the_delay() -> None:
    # Nothing else queued or expected (a fresh server, or one whose last batch was a lone request):
    # the request runs at once, whatever the delay.
    batcher: Batcher[int, int] = Batcher(lambda items: items, BatchSettings(batch_size=4, max_delay_ms=2000))
    thread = _running(batcher)
    time.sleep(0.01)
    for item in range(3):
        start = time.monotonic()
        assert batcher.submit(item) == item
        assert time.monotonic() - start < 1.0
    assert batcher.stats()["batchSizes"] == {"1": 3}
    batcher.stop()
    thread.join(timeout=30)


def test_closed_loop_clients_fill_whole_batches_even_when_a_forward_outlasts_the_delay() -> None:
    # Five clients, batches of four: one client always waits through a forward pass longer than the
    # delay; it is batched with the returning clients instead of going alone (4, 1, 4, 1, ...).
    def run(items: list[int]) -> list[int]:
        time.sleep(0.3)
        return items

    batcher: Batcher[int, int] = Batcher(run, BatchSettings(batch_size=4, max_delay_ms=150))
    thread = _running(batcher)
    stop = threading.Event()

    def client(index: int) -> None:
        while not stop.is_set():
            assert batcher.submit(index) == index

    clients = [threading.Thread(target=client, args=(i,)) for i in range(5)]
    for worker in clients:
        worker.start()
    deadline = time.monotonic() + 60
    while (stats := batcher.stats())["batches"] < 6 and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)
    stop.set()  # the last batches may be partial as the clients stop: judge those formed before
    for worker in clients:
        worker.join(timeout=60)
    # A fresh server runs its first request at once, with whatever was queued by then: only that
    # first batch may be smaller.
    sizes: dict[str, int] = stats["batchSizes"]  # type: ignore[assignment]
    assert sum(count for size, count in sizes.items() if size != "4") <= 1, stats
    assert sizes["4"] >= 5, stats
    batcher.stop()
    thread.join(timeout=30)


def test_every_batch_runs_on_the_batching_thread_whoever_submits_it() -> None:
    # PyTorch keeps an OpenMP team per thread that runs the model; the model server's forward
    # always runs on its one batching thread, lone requests from any connection's thread included.
    threads: list[str] = []

    def run(items: list[int]) -> list[int]:
        threads.append(threading.current_thread().name)
        return items

    batcher: Batcher[int, int] = Batcher(run, BatchSettings(batch_size=4, max_delay_ms=2000))
    thread = _running(batcher)
    for item in range(3):
        submitter = threading.Thread(target=batcher.submit, args=(item,))
        submitter.start()
        submitter.join(timeout=30)
    assert batcher.submit(3) == 3
    assert threads == [thread.name] * 4
    batcher.stop()
    thread.join(timeout=30)


def test_batches_never_run_at_the_same_time() -> None:
    # Clients at different paces: lone requests and batches mix, one at a time.
    running: list[int] = []
    overlaps: list[int] = []
    lock = threading.Lock()

    def run(items: list[int]) -> list[int]:
        with lock:
            running.append(1)
            if len(running) > 1:
                overlaps.append(len(running))
        time.sleep(0.002)
        with lock:
            running.pop()
        return [item + 1 for item in items]

    batcher: Batcher[int, int] = Batcher(run, BatchSettings(batch_size=3, max_delay_ms=5))
    thread = _running(batcher)
    results: list[int] = []

    def client(index: int) -> None:
        for step in range(15):
            results.append(batcher.submit(index * 100 + step))
            time.sleep(0.001 * index)  # clients at different paces: lone requests and batches mix

    clients = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for worker in clients:
        worker.start()
    for worker in clients:
        worker.join(timeout=60)
    assert sorted(results) == sorted(i * 100 + s + 1 for i in range(4) for s in range(15))
    assert overlaps == []
    batcher.stop()
    thread.join(timeout=30)
