"""CloudWatch keeps the points other services record (SageMaker Runtime's per-invocation metrics)
across a restart, within its bounds (localcloud/cloudwatch/models.py, recorded.py), on a real
SQLite store: the service is stopped (its final write) and a new one opened on the same file, as
``localcloud stop && localcloud start`` does. (tests/integration/localcloud/
test_localcloud_cloudwatch_persistence.py does it with a real endpoint and ``kill -9``.)"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from localcloud.cloudwatch import CloudWatchService
from localcloud.cloudwatch.recorded import POINTS_KIND, RECORDED_POINTS, RETENTION_SECONDS, SEGMENT_POINTS
from localcloud.store import Store

NAMESPACE = "AWS/SageMaker"
DIMS = {"EndpointName": "ep", "VariantName": "AllTraffic"}
DIMENSIONS = [{"Name": k, "Value": v} for k, v in DIMS.items()]


def _open(path: Path) -> tuple[Store, CloudWatchService]:
    store = Store(path)
    return store, CloudWatchService(store=store)


def _close(store: Store, service: CloudWatchService) -> None:
    service.stop()
    store.close()


def _statistics(service: CloudWatchService, name: str, start: float, end: float, **extra: Any) -> Any:
    return service.dispatch(
        "GetMetricStatistics",
        {
            "Namespace": NAMESPACE,
            "MetricName": name,
            "Dimensions": DIMENSIONS,
            "StartTime": start,
            "EndTime": end,
            "Period": 60,
            "Statistics": ["Sum", "SampleCount", "Maximum"],
            **extra,
        },
    )["Datapoints"]


def _values(service: CloudWatchService, name: str, start: float, end: float, period: int) -> list[float]:
    result = service.dispatch(
        "GetMetricData",
        {
            "MetricDataQueries": [
                {
                    "Id": "m",
                    "MetricStat": {
                        "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": DIMENSIONS},
                        "Period": period,
                        "Stat": "Sum",
                    },
                }
            ],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        },
    )["MetricDataResults"]
    return [float(v) for v in result[0]["Values"]]


def test_recorded_points_survive_a_stop_and_start(tmp_path: Path) -> None:
    store, service = _open(tmp_path / "state.db")
    service.start()
    now = time.time()
    start = now - now % 60 - 600
    for i in range(30):  # one invocation every 20 s over the last ten minutes, latency i ms
        service.source.record(NAMESPACE, "Invocations", DIMS, 1, start + 20 * i)
        service.source.record(NAMESPACE, "ModelLatency", DIMS, 1000.0 * i, start + 20 * i)
    service.record(NAMESPACE, "Invocations", DIMS, 1)  # the recorder SageMaker Runtime is given
    _close(store, service)

    store, service = _open(tmp_path / "state.db")
    try:
        points = _statistics(service, "Invocations", start, now + 60)
        assert sum(p["SampleCount"] for p in points) == 31
        assert sum(p["Sum"] for p in points) == 31.0
        latency = _statistics(service, "ModelLatency", start, now + 60)
        assert max(p["Maximum"] for p in latency) == 29000.0
        assert _values(service, "Invocations", start, start + 600, 60) == [3.0] * 10
        listed = service.dispatch("ListMetrics", {"Namespace": NAMESPACE})["Metrics"]
        assert {m["MetricName"] for m in listed} == {"Invocations", "ModelLatency"}
        assert all(m["Dimensions"] == DIMENSIONS for m in listed)
        # recorded again after the restart: appended to what was loaded, kept by the next restart
        service.record(NAMESPACE, "Invocations", DIMS, 1)
    finally:
        _close(store, service)
    store, service = _open(tmp_path / "state.db")
    try:
        assert sum(p["Sum"] for p in _statistics(service, "Invocations", start, time.time() + 60)) == 32.0
    finally:
        _close(store, service)


def test_the_background_writer_stores_points_without_a_stop(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    service = CloudWatchService(store=store, flush_seconds=0.05)
    service.start()
    try:
        now = time.time()
        service.source.record(NAMESPACE, "Invocations", DIMS, 1, now)
        deadline = time.monotonic() + 10
        while not store.list(POINTS_KIND) and time.monotonic() < deadline:
            time.sleep(0.02)
        # a second store on the same file (another process would see the same): no stop was needed
        other = Store(tmp_path / "state.db")
        reader = CloudWatchService(store=other)
        assert [p["Sum"] for p in _statistics(reader, "Invocations", now - 60, now + 60)] == [1.0]
        other.close()
    finally:
        _close(store, service)


def test_points_older_than_the_retention_are_dropped_and_their_documents_deleted(tmp_path: Path) -> None:
    store, service = _open(tmp_path / "state.db")
    now = time.time()
    old = now - RETENTION_SECONDS - 3600
    for i in range(3):
        service.source.record(NAMESPACE, "Invocations", DIMS, 1, old + i)
        service.source.record(NAMESPACE, "Stale", DIMS, 1, old + i)
    service.source.record(NAMESPACE, "Invocations", DIMS, 1, now)
    _close(store, service)

    store, service = _open(tmp_path / "state.db")
    try:
        assert [p["Sum"] for p in _statistics(service, "Invocations", now - 60, now + 60)] == [1.0]
        assert _statistics(service, "Invocations", old - 60, old + 60) == []
        listed = service.dispatch("ListMetrics", {"Namespace": NAMESPACE})["Metrics"]
        assert [m["MetricName"] for m in listed] == ["Invocations"]  # nothing left of "Stale"
        stored = store.list(POINTS_KIND)
        assert [d["MetricName"] for d in stored] == ["Invocations"]
    finally:
        _close(store, service)


def test_a_series_keeps_its_newest_points_up_to_the_cap_in_small_documents(tmp_path: Path) -> None:
    store, service = _open(tmp_path / "state.db")
    written: list[int] = []
    put = store.put

    def counting_put(kind: str, name: str, doc: dict[str, Any]) -> None:
        written.append(len(doc.get("Points", [])))
        put(kind, name, doc)

    store.put = counting_put  # type: ignore[method-assign]
    now = time.time()
    total = RECORDED_POINTS + 2 * SEGMENT_POINTS + 10
    first = now - total  # one point a second, the newest now
    flushes = [60 * SEGMENT_POINTS + 5, total - 5, total]  # the last flush brings 5 points
    done = 0
    for upto in flushes:
        written.clear()
        for i in range(done, upto):
            service.source.record(NAMESPACE, "ModelLatency", DIMS, float(i), first + i)
        service.source.flush()
        done = upto
    _close(store, service)
    assert written == [10]  # the open segment (5 points) with the 5 new ones, nothing else

    store, service = _open(tmp_path / "state.db")
    try:
        stored = sum(len(d["Points"]) for d in store.list(POINTS_KIND))
        assert RECORDED_POINTS <= stored <= RECORDED_POINTS + SEGMENT_POINTS
        assert max(len(d["Points"]) for d in store.list(POINTS_KIND)) == SEGMENT_POINTS
        series = service.source.find(NAMESPACE, "ModelLatency", DIMENSIONS)
        assert series is not None
        assert [v for _, v in series.points] == [float(i) for i in range(total - RECORDED_POINTS, total)]
    finally:
        _close(store, service)
